import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createWebClient, WEB_REDIRECT } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

describe('guessing client secrets', () => {
  let tg: TestInstance;

  before(async () => {
    tg = await startTestInstance({
      CLIENT_AUTH_MAX_FAILURES: '3',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '8',
      CLIENT_AUTH_WINDOW_SECONDS: '60',
    });
  });
  after(() => tg.close());

  const machine = (name: string) =>
    createClient(tg, { name, grant_types: ['client_credentials'], scope: 'decide', api: 'urn:tollgate' });

  it('refuses the address that repeatedly guessed a client id, even with the right secret, answering 429 with Retry-After', async () => {
    const victim = await machine('victim');
    for (let i = 0; i < 3; i++) {
      const wrong = await requestToken(
        tg.url,
        { client_id: victim.client_id, client_secret: `guess-${i}` },
        { scope: 'decide' },
      );
      assert.equal(wrong.status, 401);
    }
    const right = await requestToken(tg.url, victim, { scope: 'decide' });
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal(((await right.json()) as { error: string }).error, 'too_many_requests');
    assert.ok(tg.logs.some((line) => line.includes('client authentication failures over the limit')));
  });

  it('counts wrong secrets at the pushed authorization request endpoint too, and then refuses even the right one there and at /token', async () => {
    const web = await createWebClient(tg, { name: 'par', api: 'urn:tollgate', scope: 'decide' });
    const push = (secret: string) =>
      fetch(`${tg.url}/request`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${web.client_id}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          response_type: 'code',
          scope: 'openid',
          redirect_uri: WEB_REDIRECT,
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        }),
      });
    for (let i = 0; i < 3; i++) assert.equal((await push(`guess-${i}`)).status, 401);
    const right = await push(web.client_secret ?? '');
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal((await requestToken(tg.url, web, { scope: 'decide' })).status, 429);
  });

  it('refuses an address that fails too often across client ids', async () => {
    // 3 failures so far from this address; 5 more on other ids (2 each, under the per-client limit) pass 8.
    const others = [await machine('a'), await machine('b'), await machine('c')];
    for (const other of others.slice(0, 2)) {
      for (let i = 0; i < 2; i++)
        await requestToken(tg.url, { client_id: other.client_id, client_secret: 'nope' }, {});
    }
    await requestToken(tg.url, { client_id: others[2]?.client_id ?? '', client_secret: 'nope' }, {});
    const blocked = await requestToken(tg.url, others[2] ?? { client_id: '' }, { scope: 'decide' });
    assert.equal(blocked.status, 429);
  });
});

describe('guessing client secrets in the form body (client_secret_post)', () => {
  let tg: TestInstance;
  before(async () => {
    // The address limit is out of the way: only the count per client id and address can refuse here.
    tg = await startTestInstance({ CLIENT_AUTH_MAX_FAILURES: '3', CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000' });
  });
  after(() => tg.close());

  const post = (clientId: string, secret: string) =>
    fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        scope: 'decide',
      }),
    });

  it('refuses the client id from the address that failed too often, the right secret included', async () => {
    const victim = await createClient(tg, {
      name: 'post-victim',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal((await post(victim.client_id, victim.client_secret ?? '')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await post(victim.client_id, `guess-${i}`)).status, 401);
    const right = await post(victim.client_id, victim.client_secret ?? '');
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal(((await right.json()) as { error: string }).error, 'too_many_requests');
  });
});
