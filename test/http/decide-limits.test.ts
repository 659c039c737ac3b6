import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

describe('rate limit of /decide per caller', () => {
  let tg: TestInstance;
  const tokens: string[] = [];

  before(async () => {
    tg = await startTestInstance({ DECIDE_RATE_LIMIT: '5' });
    for (const name of ['busy-gateway', 'quiet-gateway']) {
      const { config } = await createMachineClient(tg, { name, scope: 'decide', api: 'urn:tollgate' });
      tokens.push((await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token);
    }
  });
  after(() => tg.close());

  const decide = (token: string | undefined) =>
    fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', attrs: { tenant: 'acme' } },
      }),
    });

  it('answers 429 with Retry-After over the limit, spares other callers, and resets after the window', async () => {
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await decide(tokens[0])).status);
    assert.ok(
      statuses.slice(0, 5).every((s) => s === 200),
      statuses.join(','),
    );
    const limited = await decide(tokens[0]);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    const body = (await limited.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'too_many_requests');
    assert.match(body.error_description, /exceeded 5 requests per second/);
    assert.equal((await decide(tokens[1])).status, 200, 'another caller is not limited');
    assert.ok(tg.logs.some((line) => line.includes('decide rate limit reached')));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await decide(tokens[0])).status, 200);
  });
});
