import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../../src/audit/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { type Cluster, createCluster } from '../helpers/cluster.ts';
import { createClient, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';
import { loggedInUser } from '../helpers/users.ts';

const API = 'https://ledger.example.test';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('a database outage, for real: the PostgreSQL server is stopped and started', {
  skip: skipUnless('postgres', 'cluster'),
}, () => {
  let cluster: Cluster;
  let tg: TestInstance;
  let callerToken: string;
  let userToken: string;
  let spare: { client_id: string; client_secret?: string };
  let adminToken: string;

  before(async () => {
    cluster = await createCluster();
    tg = await startTestInstance({ AUDIT_FLUSH_MS: '50' }, { database: cluster.database });
    await tg.admin$('POST', '/policies', { files: policyFiles() });
    const { created } = await createMachineClient(tg, {
      name: 'gateway',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    callerToken = (
      (await (await requestToken(tg.url, created, { scope: 'decide' })).json()) as {
        access_token: string;
      }
    ).access_token;
    userToken = (
      await loggedInUser(
        tg,
        { username: 'una', password: 'una password', roles: ['accountant'], attrs: { tenant: 'acme' } },
        { audience: API },
      )
    ).accessToken;
    // A client never used for a token on this instance: nothing about it is cached.
    adminToken = await tg.adminToken();
    spare = await createClient(tg, {
      name: 'spare',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
    });
  });
  after(async () => {
    await tg?.close();
    await cluster?.destroy();
  });

  const decide = (subject: unknown) =>
    fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject,
        action: 'read',
        resource: { type: 'Invoice', id: 'inv-1', attrs: { tenant: 'acme' } },
      }),
    });
  const explicit = { id: 'u-static', roles: ['accountant'], attrs: { tenant: 'acme' } };

  it('keeps deciding from memory, refuses what needs the database with 503, and recovers with nothing lost', async (t) => {
    // Warm up: the user behind the subject token is read once while the database is there.
    assert.equal(((await (await decide({ token: userToken })).json()) as { allow: boolean }).allow, true);

    // Load that runs through the whole outage.
    const tally = { answered: 0, allowed: 0, errors: 0, statuses: new Map<number, number>() };
    let loading = true;
    const worker = async (subject: unknown) => {
      while (loading) {
        try {
          const response = await decide(subject);
          const body = (await response.json()) as { allow?: boolean };
          tally.statuses.set(response.status, (tally.statuses.get(response.status) ?? 0) + 1);
          if (response.status === 200) tally.answered += 1;
          else tally.errors += 1;
          if (body.allow === true) tally.allowed += 1;
        } catch {
          tally.errors += 1;
        }
        await sleep(5);
      }
    };
    const workers = [worker(explicit), worker({ token: userToken }), worker(explicit)];

    await sleep(300);
    await cluster.stop();
    const downAt = Date.now();

    const ready = await fetch(`${tg.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { database: string }).database, 'unreachable');

    const token = await requestToken(tg.url, spare, { scope: 'decide' });
    assert.equal(token.status, 503);
    assert.ok(Number(token.headers.get('retry-after')) > 0);
    assert.equal(((await token.json()) as { error: string }).error, 'temporarily_unavailable');

    const admin = await fetch(`${tg.url}/admin/clients`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(admin.status, 503);

    // Decisions go on, from the policy version, keys, revocations and users in memory.
    const during = await decide({ token: userToken });
    assert.equal(during.status, 200);
    assert.equal(((await during.json()) as { allow: boolean }).allow, true);
    const answeredBefore = tally.answered;
    await sleep(1500);
    assert.ok(
      tally.answered > answeredBefore + 20,
      'decisions keep being answered while the database is down',
    );

    await cluster.start();
    let recoveredAfterMs = -1;
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${tg.url}/readyz`)).status === 200) {
        recoveredAfterMs = Date.now() - downAt;
        break;
      }
      await sleep(100);
    }
    assert.ok(recoveredAfterMs > 0, 'ready again without a restart');
    assert.equal((await requestToken(tg.url, spare, { scope: 'decide' })).status, 200);
    await sleep(300);
    loading = false;
    await Promise.all(workers);

    // Every decision made, during the outage included, reaches the audit log: none lost.
    // +1: the warm-up decision; +1: the single check made during the outage above.
    const made = tally.allowed + 2;
    let logged = 0;
    for (let i = 0; i < 100; i++) {
      const verdict = (await (await tg.admin$('GET', '/audit/verify')).json()) as {
        ok: boolean;
        rows: number;
      };
      assert.equal(verdict.ok, true);
      logged = await countDecisions(tg);
      if (logged >= made) break;
      await sleep(100);
    }
    t.diagnostic(
      `outage: ${tally.answered} decisions answered by the load, ${tally.errors} errors (${JSON.stringify([...tally.statuses])}); ` +
        `ready ${recoveredAfterMs} ms after the stop; decisions made ${made}, in the audit log ${logged}, lost ${made - logged}`,
    );
    assert.equal(tally.errors, 0, 'no decision failed');
    const auditErrors = tg.logs
      .filter((line) => /"level":(40|50|60)/.test(line) && line.includes('audit'))
      .slice(-5);
    assert.equal(logged, made, `no audit record lost; audit log lines: ${auditErrors.join('\n')}`);
  });
});

async function countDecisions(tg: TestInstance): Promise<number> {
  let count = 0;
  let after = 0;
  for (;;) {
    const page = (await (
      await tg.admin$('GET', `/audit?type=decision&limit=1000&after=${after}`)
    ).json()) as {
      events: AuditRecord[];
      next_after: number | null;
    };
    count += page.events.length;
    if (page.next_after === null) return count;
    after = page.next_after;
  }
}
