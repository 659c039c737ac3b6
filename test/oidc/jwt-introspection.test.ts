import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CreatedClient, createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

// Issue 14: JWT introspection with a secret in Basic is answered before Koa and oidc-provider.
// Every request that path does not take must meet exactly what it met before: these tests send
// the cases it leaves to the full path and check that nothing got through on the way.

const API = 'https://ledger.example.test';
const NEIGHBOUR = '198.51.100.20';

type Confidential = CreatedClient & { client_secret: string };

/** A client-credentials client of API with a secret. */
async function confidential(tg: TestInstance, body: Record<string, unknown>): Promise<Confidential> {
  const created = await createClient(tg, {
    grant_types: ['client_credentials'],
    scope: 'read',
    api: API,
    ...body,
  });
  assert.ok(created.client_secret);
  return { ...created, client_secret: created.client_secret };
}

interface Sent {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('JWT introspection outside oidc-provider', () => {
  let tg: TestInstance;
  let owner: Confidential;
  let token: string;

  before(async () => {
    tg = await startTestInstance({
      TRUSTED_PROXIES: '127.0.0.1,::1',
      CLIENT_AUTH_MAX_FAILURES: '3',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '6',
    });
    await tg.admin$('POST', '/apis', { audience: API, scopes: ['read'], alg: 'ES256' });
    owner = await confidential(tg, { name: 'owner' });
    token = await tokenOf(owner);
  });
  after(() => tg.close());

  async function tokenOf(client: CreatedClient): Promise<string> {
    const response = await requestToken(tg.url, client, { scope: 'read' });
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  async function introspect(
    form: Record<string, string> | string,
    headers: Record<string, string> = {},
    credentials: { client_id: string; client_secret?: string } | null = owner,
  ): Promise<Sent> {
    const basic = credentials
      ? {
          authorization: `Basic ${Buffer.from(`${credentials.client_id}:${credentials.client_secret ?? ''}`).toString('base64')}`,
        }
      : {};
    const response = await fetch(`${tg.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic, ...headers },
      body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
  }

  it('answers as the full path does: same body, same headers', async () => {
    const fast = await introspect({ token });
    // A secret in the form is left to oidc-provider (client_secret_basic clients may use either).
    const full = await introspect(
      { token, client_id: owner.client_id, client_secret: owner.client_secret },
      {},
      null,
    );
    assert.equal(fast.status, 200);
    assert.equal(full.status, 200, JSON.stringify(full.body));
    assert.equal(fast.body.active, true);
    assert.equal(fast.body.aud, API);
    assert.deepEqual(fast.body, full.body);
    const names = (sent: Sent) =>
      [...sent.headers.keys()]
        .filter((name) => !['date', 'x-request-id', 'content-length'].includes(name))
        .sort();
    assert.deepEqual(names(fast), names(full));
    for (const name of names(fast)) assert.equal(fast.headers.get(name), full.headers.get(name), name);
  });

  it('refuses a wrong secret as before and counts it: the guessing address waits, the right secret included', async () => {
    const victim = await confidential(tg, { name: 'victim' });
    const victimToken = await tokenOf(victim);
    const from = (address: string, secret: string) =>
      introspect(
        { token: victimToken },
        { 'x-forwarded-for': address },
        { client_id: victim.client_id, client_secret: secret },
      );
    for (let i = 0; i < 3; i++) {
      const wrong = await from('203.0.113.50', `guess-${i}`);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
    }
    const held = await from('203.0.113.50', victim.client_secret);
    assert.equal(held.status, 429, 'the right secret from the guessing address waits too');
    assert.equal(held.body.error, 'too_many_requests');
    assert.ok(Number(held.headers.get('retry-after')) > 0);
    const elsewhere = await from(NEIGHBOUR, victim.client_secret);
    assert.equal(elsewhere.status, 200);
    assert.equal(elsewhere.body.active, true);
  });

  it('tells a client outside its allowed addresses nothing, as if it did not exist', async () => {
    const fenced = await confidential(tg, { name: 'fenced', allowed_ips: ['192.0.2.0/24'] });
    const inside = await introspect({ token }, { 'x-forwarded-for': '192.0.2.9' }, fenced);
    assert.equal(inside.status, 200);
    assert.deepEqual(inside.body, { active: false }, 'not its token, not its audience');
    const outside = await introspect({ token }, { 'x-forwarded-for': NEIGHBOUR }, fenced);
    assert.equal(outside.status, 401);
    assert.equal(outside.body.error, 'invalid_client');
  });

  it('leaves an unknown client, the secret of another client and a padded secret to the full path, which refuses them', async () => {
    const other = await confidential(tg, { name: 'other' });
    for (const credentials of [
      { client_id: 'cl_made_up', client_secret: owner.client_secret },
      { client_id: owner.client_id, client_secret: other.client_secret },
      { client_id: owner.client_id, client_secret: `${owner.client_secret} ` },
    ]) {
      const sent = await introspect(
        { token },
        { 'x-forwarded-for': `192.0.2.${Math.floor(Math.random() * 200) + 1}` },
        credentials,
      );
      assert.equal(sent.status, 401, JSON.stringify(credentials));
      assert.equal(sent.body.error, 'invalid_client');
      assert.equal(sent.body.active, undefined);
    }
  });

  it('leaves odd forms to oidc-provider, which answers them as before', async () => {
    const twice = await introspect(`token=${token}&token=${token}`);
    assert.equal(twice.status, 400);
    assert.equal(twice.body.error, 'invalid_request');
    const mismatch = await introspect({ token, client_id: 'cl_someone_else' });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error, 'invalid_request');
    const missing = await introspect({ token_type_hint: 'access_token' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_request');
    const opaque = await introspect({ token: 'not-a-token-at-all' });
    assert.deepEqual([opaque.status, opaque.body], [200, { active: false }]);
    const hinted = await introspect({ token, token_type_hint: 'access_token' });
    assert.equal(hinted.body.active, true);
    // A browser's request: oidc-provider's CORS rules for confidential clients refuse it.
    const fromPage = await introspect({ token }, { origin: 'https://evil.example.test' });
    assert.equal(fromPage.status, 400);
    assert.equal(fromPage.body.error, 'invalid_request');
    assert.equal(fromPage.body.active, undefined);
  });

  it('reads a body that arrives in pieces', async () => {
    const body = new URLSearchParams({ token }).toString();
    const basic = Buffer.from(`${owner.client_id}:${owner.client_secret}`).toString('base64');
    const { connect } = await import('node:net');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(new URL(tg.url).port ? Number(new URL(tg.url).port) : 80, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
      });
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
      socket.write(
        `POST /token/introspection HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${basic}\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      // The body in three pieces, apart in time.
      const thirds = [body.slice(0, 10), body.slice(10, 200), body.slice(200)];
      thirds.forEach((piece, i) => {
        setTimeout(() => socket.write(piece), 20 * (i + 1));
      });
    });
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, /"active":true/);
  });

  it('sees a revocation at once, though it verified the token before', async () => {
    const revocable = await tokenOf(owner);
    assert.equal((await introspect({ token: revocable })).body.active, true);
    const basic = Buffer.from(`${owner.client_id}:${owner.client_secret}`).toString('base64');
    const revoked = await fetch(`${tg.url}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: revocable }),
    });
    assert.equal(revoked.status, 200);
    assert.deepEqual((await introspect({ token: revocable })).body, { active: false });
  });

  it('takes only its exact path: other spellings are answered by the full path', async () => {
    for (const path of ['/token/introspection/', '/Token/Introspection', '/token/introspection?x=1']) {
      const basic = Buffer.from(`${owner.client_id}:${owner.client_secret}`).toString('base64');
      const response = await fetch(`${tg.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      const text = await response.text();
      if (path.includes('?')) {
        // The full path's answer: oidc-provider reads a POST's parameters from its body alone.
        assert.equal(response.status, 200, text);
        assert.equal((JSON.parse(text) as { active: boolean }).active, true);
      } else {
        assert.equal(response.status, 404, `${path}: ${text}`);
        assert.equal((JSON.parse(text) as { error: string }).error, 'not_found');
      }
    }
  });
});
