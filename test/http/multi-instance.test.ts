import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { createApi, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';

const postgres = process.env.TOLLGATE_TEST_DATABASE_URL !== undefined;

/** Polls `probe` until it returns true; resolves to the milliseconds it took. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await probe()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`not within ${ms} ms`);
}

describe('two instances on one PostgreSQL database', { skip: !postgres && 'needs PostgreSQL' }, () => {
  let a: TestInstance;
  let b: TestInstance;
  let callerAtB: string;
  const API = 'https://projects.example.test';

  before(async () => {
    a = await startTestInstance();
    b = await startTestInstance({}, { shareWith: a });
    await createApi(a, { audience: API, scopes: ['read'] });
    const { config } = await createMachineClient(b, { name: 'gw', scope: 'decide', api: 'urn:tollgate' });
    callerAtB = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  const decideAtB = async (body: unknown) => {
    const response = await fetch(`${b.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${callerAtB}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as {
      allow?: boolean;
      detail?: string;
      policy?: { version: number };
      error?: string;
    };
  };

  it('uses a policy pushed at A within a second at B', async () => {
    const pushed = await a.admin$('POST', '/policies', { files: policyFiles() });
    assert.equal(pushed.status, 201);
    const { version } = (await pushed.json()) as { version: number };
    const ms = await within(1000, async () => {
      const answer = await decideAtB({
        subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', attrs: { tenant: 'acme' } },
      });
      return answer.policy?.version === version && answer.allow === true;
    });
    assert.ok(ms < 1000);
  });

  it('sees at B, within a second, a JWT revoked at A', async () => {
    const { created, config } = await createMachineClient(a, { name: 'svc', scope: 'read', api: API });
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    // Introspected at B, revoked at A …
    const introspect = () =>
      fetch(`${b.url}/token/introspection`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }),
      }).then(async (r) => ((await r.json()) as { active: boolean }).active);
    assert.equal(await introspect(), true);
    await client.tokenRevocation(config, token);
    // … and /decide at B reports it revoked within a second.
    await within(1000, async () => {
      const answer = await decideAtB({
        subject: { token },
        action: 'read',
        resource: { type: 'Invoice', attrs: {} },
      });
      return answer.detail === 'revoked';
    });
    await within(1000, async () => !(await introspect()));
  });
});
