import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

describe('token endpoint rate limit per client', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance({ TOKEN_RATE_LIMIT: '3' });
  });
  after(() => tg.close());

  it('answers 429 with Retry-After past the limit, for client_secret_post too, and spares other clients', async () => {
    const busy = await createClient(tg, {
      name: 'busy',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
      token_endpoint_auth_method: 'client_secret_post',
    });
    const post = () =>
      fetch(`${tg.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'decide',
          client_id: busy.client_id,
          client_secret: busy.client_secret ?? '',
        }),
      });
    for (let i = 0; i < 3; i++) assert.equal((await post()).status, 200);
    const limited = await post();
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const body = (await limited.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'too_many_requests');
    assert.match(body.error_description, /3 token requests per minute/);
    assert.ok(tg.logs.some((line) => line.includes('token rate limit reached')));

    const quiet = await createClient(tg, {
      name: 'quiet',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
    });
    assert.equal((await requestToken(tg.url, quiet, { scope: 'decide' })).status, 200);
  });
});
