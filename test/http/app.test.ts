import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CreatedClient, createApi, createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

/** Header names of an answer, without those that differ from one answer to the next by nature. */
const headerNames = (response: Response) =>
  [...response.headers.keys()].filter((name) => !['date', 'content-length', 'etag'].includes(name)).sort();

/**
 * oidc-provider's endpoints spelled exactly and without a query take a Koa app without our
 * routers (src/http/app.ts); any other spelling takes the full app. Both must keep one outer
 * contract: request id, security headers, error shape, status and body.
 */
describe("oidc-provider's endpoints, spelled exactly or not", () => {
  let tg: TestInstance;
  let machine: CreatedClient;
  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: 'https://lane.example', scopes: ['read'] });
    machine = await createClient(tg, {
      name: 'lane',
      grant_types: ['client_credentials'],
      api: 'https://lane.example',
      scope: 'read',
    });
  });
  after(() => tg.close());

  async function both(path: string, init: RequestInit = {}): Promise<[Response, Response]> {
    const exact = await fetch(`${tg.url}${path}`, init);
    const full = await fetch(`${tg.url}${path}?via=full`, init);
    return [exact, full];
  }

  it('answers a token request, JWKS and discovery with the same headers and status either way', async () => {
    const basic = `Basic ${Buffer.from(`${machine.client_id}:${machine.client_secret ?? ''}`).toString('base64')}`;
    const form = {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read',
    };
    const wrong = { ...form, headers: { ...form.headers, authorization: 'Basic bm9ib2R5Om5vdGhpbmc=' } };
    for (const [path, init, status] of [
      ['/token', form, 200],
      ['/token', wrong, 401],
      ['/jwks', {}, 200],
      ['/.well-known/openid-configuration', {}, 200],
    ] as const) {
      const [exact, full] = await both(path, init);
      assert.equal(exact.status, status, `${path}: ${await exact.clone().text()}`);
      assert.equal(full.status, status, path);
      assert.deepEqual(headerNames(exact), headerNames(full), path);
      for (const name of [
        'content-security-policy',
        'x-frame-options',
        'x-content-type-options',
        'referrer-policy',
      ])
        assert.equal(exact.headers.get(name), full.headers.get(name), `${path}: ${name}`);
      assert.match(exact.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const [a, b] = [
        (await exact.json()) as Record<string, unknown>,
        (await full.json()) as Record<string, unknown>,
      ];
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), path);
      if (status === 401) assert.equal(a.error, 'invalid_client');
    }
  });

  it('keeps a well-formed incoming request id and logs the request under it', async () => {
    const response = await requestToken(tg.url, machine, { scope: 'read' }, { 'x-request-id': 'lane-42' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-request-id'), 'lane-42');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.ok(tg.logs.some((line) => line.includes('"reqId":"lane-42"')));
  });

  it('refuses other spellings of the token endpoint as before: they never reach it', async () => {
    for (const path of ['/Token', '/token/', '//token', '/%74oken']) {
      const other = await fetch(`${tg.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      assert.equal(other.status, 404, path);
      assert.equal(((await other.json()) as { error: string }).error, 'not_found', path);
    }
  });
});
