import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { skipUnless } from '../helpers/capabilities.ts';
import { createApi, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';

/** Polls `probe` until it returns true, failing after a generous deadline (a loaded machine is slow). */
async function eventually(probe: () => Promise<boolean>, deadlineMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > deadlineMs) throw new Error(`not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Asserts a change made just now shows within `claimMs`: polls until `probe` sees it, and fails
 * if a probe sent more than `claimMs` after the change still saw the old state. Measured from
 * when a probe was sent, so a slow answer on a loaded machine does not count against the claim,
 * while a change that really takes longer (missed notification, a poll instead) still fails.
 */
async function propagatesWithin(claimMs: number, probe: () => Promise<boolean>): Promise<void> {
  const changed = Date.now();
  let lastMiss = -1;
  await eventually(async () => {
    const sent = Date.now() - changed;
    const seen = await probe();
    if (!seen) lastMiss = sent;
    return seen;
  });
  assert.ok(lastMiss < claimMs, `the old state was still served ${lastMiss} ms after the change`);
}

describe('three instances on one PostgreSQL database', { skip: skipUnless('postgres') }, () => {
  let a: TestInstance;
  let b: TestInstance;
  let c: TestInstance;
  let callerAtB: string;
  const API = 'https://projects.example.test';
  // Keys: published within a second everywhere, signing 6 s after a rotation (a margin a loaded
  // machine cannot use up, so "published before it signs" is decided by the service, not the load).
  // … and one Redis for the limits, when the run has one (CI always does).
  const ENV = {
    KEY_PUBLISH_SECONDS: '6',
    KEY_REFRESH_SECONDS: '1',
    AUDIT_FLUSH_MS: '50',
    ...(process.env.TOLLGATE_TEST_REDIS_URL ? { REDIS_URL: process.env.TOLLGATE_TEST_REDIS_URL } : {}),
  };

  before(async () => {
    a = await startTestInstance(ENV);
    b = await startTestInstance(ENV, { shareWith: a });
    c = await startTestInstance(ENV, { shareWith: a });
    await createApi(a, { audience: API, scopes: ['read'] });
    const { config } = await createMachineClient(b, { name: 'gw', scope: 'decide', api: 'urn:tollgate' });
    callerAtB = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
  });

  const decideAt = async (tg: TestInstance, body: unknown) => {
    const response = await fetch(`${tg.url}/decide`, {
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

  it('uses a policy pushed at A within a second at B and C', async () => {
    const pushed = await a.admin$('POST', '/policies', { files: policyFiles() });
    assert.equal(pushed.status, 201);
    const { version } = (await pushed.json()) as { version: number };
    const check = {
      subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
      action: 'read',
      resource: { type: 'Invoice', attrs: { tenant: 'acme' } },
    };
    await Promise.all(
      [b, c].map((tg) =>
        propagatesWithin(1000, async () => {
          const answer = await decideAt(tg, check);
          return answer.policy?.version === version && answer.allow === true;
        }),
      ),
    );
  });

  it('introspects at B a token from A, and /decide at B and C refuse it within a second of its revocation', async () => {
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
    // … and /decide at B and C reports it revoked within a second.
    await Promise.all(
      [b, c].map((tg) =>
        propagatesWithin(1000, async () => {
          const answer = await decideAt(tg, {
            subject: { token },
            action: 'read',
            resource: { type: 'Invoice', attrs: {} },
          });
          return answer.detail === 'revoked';
        }),
      ),
    );
    await eventually(async () => !(await introspect()));
  });

  it('publishes a key rotated at A on every instance before it signs', async () => {
    const kids = async (tg: TestInstance) =>
      ((await (await fetch(`${tg.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const rotated = await a.admin$('POST', '/keys/rotate');
    assert.equal(rotated.status, 201);
    const { keys } = (await rotated.json()) as { keys: { kid: string; activatesAt: string }[] };
    const activatesAt = Math.min(...keys.map((k) => Date.parse(k.activatesAt)));
    // KEY_REFRESH_SECONDS=1: every instance publishes them within about a second.
    for (const tg of [a, b, c]) {
      await propagatesWithin(2000, async () => {
        const published = await kids(tg);
        return keys.every((k) => published.includes(k.kid));
      });
    }
    assert.ok(Date.now() < activatesAt, 'published everywhere before the new keys sign');
    // Until then every instance still signs with the previous key.
    const { config } = await createMachineClient(c, { name: 'probe', scope: 'decide', api: 'urn:tollgate' });
    const { access_token: probe } = await client.clientCredentialsGrant(config, { scope: 'decide' });
    const { kid } = JSON.parse(Buffer.from(probe.split('.')[0] ?? '', 'base64url').toString()) as {
      kid: string;
    };
    assert.ok(!keys.some((k) => k.kid === kid), 'a pending key does not sign');
  });

  it('keeps one valid audit chain while all three write at once', async () => {
    const callers = await Promise.all(
      [a, b, c].map(async (tg, i) => {
        const { config } = await createMachineClient(tg, {
          name: `writer-${i}`,
          scope: 'decide',
          api: 'urn:tollgate',
        });
        return { tg, token: (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token };
      }),
    );
    const PER_INSTANCE = 60;
    await Promise.all(
      callers.flatMap(({ tg, token }) =>
        Array.from({ length: PER_INSTANCE }, (_, i) =>
          fetch(`${tg.url}/decide`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              subject: { id: `chain-${i}`, roles: ['accountant'], attrs: { tenant: 'acme' } },
              action: 'read',
              resource: { type: 'Invoice', attrs: { tenant: 'acme' } },
            }),
          }).then((r) => r.json()),
        ),
      ),
    );
    let newest = 0;
    await eventually(async () => {
      const { events } = (await (await a.admin$('GET', '/audit?type=decision&limit=1000')).json()) as {
        events: { seq: number; subject: string | null }[];
      };
      const chain = events.filter((e) => e.subject?.startsWith('chain-'));
      newest = Math.max(0, ...chain.map((e) => e.seq));
      return chain.length === 3 * PER_INSTANCE;
    });
    const verdict = (await (await b.admin$('GET', '/audit/verify')).json()) as { ok: boolean; rows: number };
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    // Decisions share rows (several per row): every row holding them is in the verified chain.
    assert.ok(verdict.rows >= newest, `verified ${verdict.rows} rows, decisions reach row ${newest}`);
  });
});
