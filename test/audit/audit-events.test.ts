import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import type { AuditRecord } from '../../src/audit/index.ts';
import { attemptLogin } from '../helpers/browser.ts';
import { runTollgate } from '../helpers/cli.ts';
import { ENGINE } from '../helpers/database.ts';
import { createClient, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';
import { loggedInUser } from '../helpers/users.ts';

const API = 'https://books.example.test';

/** Polls the admin API until an event of `type` matching `where` is written (the writer batches). */
async function eventOf(
  tg: TestInstance,
  type: string,
  where: (event: AuditRecord) => boolean = () => true,
): Promise<AuditRecord> {
  // A deadline, not a count of tries: a loaded machine answers each poll more slowly.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const response = await tg.admin$('GET', `/audit?type=${type}&limit=1000`);
    const { events } = (await response.json()) as { events: AuditRecord[] };
    const found = events.find(where);
    if (found) return found;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`no ${type} event was written`);
}

describe('what the audit log records', () => {
  let tg: TestInstance;
  let machine: { client_id: string; client_secret?: string };
  let accessToken: string;
  const secrets: string[] = [];

  before(async () => {
    tg = await startTestInstance({ AUDIT_FLUSH_MS: '50', LOGIN_MAX_FAILURES: '2' });
    machine = (await createMachineClient(tg, { name: 'reporting', scope: 'decide', api: 'urn:tollgate' }))
      .created;
    const issued = await requestToken(tg.url, machine, { scope: 'decide' });
    accessToken = ((await issued.json()) as { access_token: string }).access_token;
    secrets.push(machine.client_secret ?? '', accessToken, tg.admin.client_secret);
  });
  after(() => tg.close());

  it('a token issued: client, subject, API, scopes, jti and grant type, never the token', async () => {
    const { jti } = decodeJwt(accessToken);
    const event = await eventOf(tg, 'token.issued', (e) => e.data.jti === jti);
    assert.equal(event.actor, machine.client_id);
    assert.equal(event.client_id, machine.client_id);
    assert.equal(event.subject, machine.client_id);
    assert.equal(event.data.grant_type, 'client_credentials');
    assert.equal(event.data.aud, 'urn:tollgate');
    assert.equal(event.data.scope, 'decide');
    assert.equal(event.ip, '127.0.0.1', 'IPv4 clients are named as IPv4, not ::ffff:…');
  });

  it('a token refused: the OAuth error and the client it named', async () => {
    await requestToken(tg.url, { client_id: machine.client_id, client_secret: 'wrong' }, { scope: 'decide' });
    const event = await eventOf(tg, 'token.refused', (e) => e.client_id === machine.client_id);
    assert.equal(event.data.error, 'invalid_client');
    assert.equal(event.data.grant_type, 'client_credentials');
  });

  it('a revocation: which token (jti) and who revoked it', async () => {
    const fresh = (await (await requestToken(tg.url, machine, { scope: 'decide' })).json()) as {
      access_token: string;
    };
    secrets.push(fresh.access_token);
    const basic = Buffer.from(`${machine.client_id}:${machine.client_secret}`).toString('base64');
    const revoked = await fetch(`${tg.url}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: fresh.access_token }),
    });
    assert.equal(revoked.status, 200);
    const { jti } = decodeJwt(fresh.access_token);
    const event = await eventOf(tg, 'token.revoked', (e) => e.data.jti === jti);
    assert.equal(event.actor, machine.client_id);
    assert.equal(event.data.kind, 'access_token');
  });

  it('logins: success with the user id, failures and the lockout with username and address', async () => {
    const user = await loggedInUser(
      tg,
      { username: 'olivia', password: 'olivia password', roles: ['reader'] },
      { audience: API },
    );
    secrets.push(user.accessToken, 'olivia password');
    const success = await eventOf(tg, 'login.succeeded', (e) => e.actor === 'olivia');
    assert.equal(success.subject, user.userId);
    assert.equal(success.client_id, user.clientId);

    for (let i = 0; i < 2; i++) await attemptLogin(tg, user.clientId, 'olivia', 'not her password');
    const failed = await eventOf(tg, 'login.failed', (e) => e.actor === 'olivia');
    assert.equal(failed.data.reason, 'bad_credentials');
    assert.equal(failed.ip, '127.0.0.1');
    const locked = await eventOf(tg, 'login.locked', (e) => e.actor === 'olivia');
    assert.ok(Number(locked.data.retry_after_seconds) > 0);
  });

  it('admin changes: who, what, before and after, without secrets', async () => {
    const created = await createClient(tg, {
      name: 'billing',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
    });
    secrets.push(created.client_secret ?? '');
    const create = await eventOf(tg, 'admin.change', (e) => e.data.target === created.client_id);
    assert.equal(create.actor, tg.admin.client_id);
    assert.equal(create.data.action, 'client.create');
    assert.equal((create.data.after as { name: string }).name, 'billing');

    assert.equal((await tg.admin$('DELETE', `/clients/${created.client_id}`)).status, 204);
    const removed = await eventOf(
      tg,
      'admin.change',
      (e) => e.data.action === 'client.delete' && e.data.target === created.client_id,
    );
    assert.equal((removed.data.before as { name: string }).name, 'billing');
  });

  it('policy pushes and key rotations', async () => {
    const pushed = await tg.admin$('POST', '/policies', { files: policyFiles() });
    const { version } = (await pushed.json()) as { version: number };
    const push = await eventOf(tg, 'policy.pushed', (e) => e.data.version === version);
    assert.equal(push.actor, tg.admin.client_id);
    assert.deepEqual(push.data.resources, ['Invoice']);

    assert.equal((await tg.admin$('POST', '/keys/rotate')).status, 201);
    const rotation = await eventOf(tg, 'key.rotated');
    assert.equal(rotation.actor, tg.admin.client_id);
    assert.ok(Array.isArray(rotation.data.after));
  });

  it('decisions: caller, subject, action, resource, result, rule, version and latency', async () => {
    const decide = (action: string, status: string) =>
      fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: { id: 'u-audit', roles: ['accountant'], attrs: { tenant: 'acme' } },
          action,
          resource: { type: 'Invoice', id: 'inv-audit', attrs: { tenant: 'acme', status } },
        }),
      });
    assert.equal((await decide('read', 'draft')).status, 200);
    assert.equal((await decide('update', 'paid')).status, 200);
    const allow = await eventOf(tg, 'decision', (e) => e.subject === 'u-audit' && e.data.allow === true);
    assert.equal(allow.actor, machine.client_id);
    assert.deepEqual(allow.data.resource, { type: 'Invoice', id: 'inv-audit' });
    assert.equal(allow.data.rule, 'read-own-tenant');
    assert.equal(typeof allow.data.latency_us, 'number');
    const deny = await eventOf(tg, 'decision', (e) => e.subject === 'u-audit' && e.data.allow === false);
    assert.equal(deny.data.reason, 'paid invoices are immutable');

    // A batch's decisions are recorded together, so they are written together: one row.
    const batch = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u-batch', roles: ['accountant'], attrs: { tenant: 'acme' } },
        checks: ['b-1', 'b-2', 'b-3'].map((id) => ({
          action: 'read',
          resource: { type: 'Invoice', id, attrs: { tenant: 'acme', status: 'draft' } },
        })),
      }),
    });
    assert.equal(batch.status, 200);
    await eventOf(
      tg,
      'decision',
      (e) => e.subject === 'u-batch' && (e.data.resource as { id: string }).id === 'b-3',
    );
    const { events } = (await (await tg.admin$('GET', '/audit?type=decision&subject=u-batch')).json()) as {
      events: AuditRecord[];
    };
    assert.deepEqual(
      events.map((e) => [e.data.resource, e.index, e.seq === events[0]?.seq]),
      ['b-1', 'b-2', 'b-3'].map((id, i) => [{ type: 'Invoice', id }, i, true]),
    );
    // Where the lines live: beside the embedded database (one process), in the row itself on
    // PostgreSQL, whose instances share the table but not their files.
    const { rows } = await sql<{ format: string }>`
      select data->>'format' as format from audit_events where seq = ${events[0]?.seq}`.execute(
      tg.database.handle.db,
    );
    const segments = join(tg.dataDir, 'audit-segments');
    if (ENGINE === 'pglite') {
      assert.equal(rows[0]?.format, 'segment/1');
      assert.equal((await stat(segments)).mode & 0o777, 0o700);
      const files = await readdir(segments);
      assert.ok(files.length >= 1);
      for (const file of files) assert.equal((await stat(join(segments, file))).mode & 0o777, 0o600);
    } else {
      assert.equal(rows[0]?.format, 'decisions/3');
      assert.equal(existsSync(segments), false);
    }
  });

  it('tollgate audit verify, query and export read the same chain; no secret in it or in the logs', async () => {
    const env = { DATA_DIR: tg.dataDir };
    const verify = await runTollgate(['audit', 'verify'], env);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^Audit chain intact: \d+ events/);

    const query = await runTollgate(
      ['audit', 'query', '--type', 'login.failed', '--since', '1h', '--json'],
      env,
    );
    assert.equal(query.code, 0, query.stderr);
    const { events } = JSON.parse(query.stdout) as { events: AuditRecord[] };
    assert.ok(events.length >= 1);
    assert.ok(events.every((e) => e.type === 'login.failed'));

    const bad = await runTollgate(['audit', 'query', '--since', 'yesterday'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since yesterday/);

    const exported = await runTollgate(['audit', 'export'], env);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as AuditRecord);
    // Decisions (and tokens) written together share a row: such a row's events carry its seq and an index.
    const rows = [...new Set(records.map((r) => r.seq))];
    assert.deepEqual(
      rows,
      rows.map((_, i) => i + 1),
      'the whole chain, in order',
    );
    assert.ok(records.length > rows.length, 'some rows held several events (the batch)');
    for (const [i, r] of records.entries()) {
      const before = records[i - 1];
      if (before?.seq === r.seq) assert.equal(r.index, (before.index ?? 0) + 1, 'events in order');
    }
    const shared = records.find((r) => r.index !== undefined && r.type === 'decision');
    assert.ok(shared);
    const listed = await runTollgate(['audit', 'query', '--type', 'decision', '--limit', '1000'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`^${shared.seq}\\.${shared.index}\\s`, 'm'),
      'a decision sharing a row is listed as SEQ.INDEX',
    );
    // Neither the audit log nor the service log of this whole flow holds a secret.
    const logs = tg.logs.join('\n');
    assert.ok(logs.includes('"reqId"'), 'request lines were logged');
    for (const secret of secrets) {
      assert.ok(secret && !exported.stdout.includes(secret), 'no secret in the audit log');
      assert.ok(!logs.includes(secret), 'no secret in the service log');
    }
  });

  it('answers a malformed filter with 400 naming the field', async () => {
    const response = await tg.admin$('GET', '/audit?since=last-week');
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error_description: string }).error_description, /^since: /);
  });
});

describe('decision log settings', () => {
  it('logs every denial but no allow with DECISION_LOG_ALLOW_SAMPLE=0, and nothing with DECISION_LOG=off', async () => {
    for (const [env, expected] of [
      [{ DECISION_LOG_ALLOW_SAMPLE: '0' }, [false]],
      [{ DECISION_LOG: 'off' }, []],
    ] as const) {
      const label = JSON.stringify(env);
      const tg = await startTestInstance({ AUDIT_FLUSH_MS: '20', ...env });
      try {
        const pushed = await tg.admin$('POST', '/policies', { files: policyFiles() });
        assert.equal(pushed.status, 201, label);
        const { created } = await createMachineClient(tg, {
          name: 'gw',
          scope: 'decide',
          api: 'urn:tollgate',
        });
        const token = (
          (await (await requestToken(tg.url, created, { scope: 'decide' })).json()) as {
            access_token: string;
          }
        ).access_token;
        // One allow (read a draft) and one denial (update a paid invoice), both really decided.
        for (const [status, allow, rule] of [
          ['draft', true, 'read-own-tenant'],
          ['paid', false, null],
        ] as const) {
          const response = await fetch(`${tg.url}/decide`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
              action: status === 'draft' ? 'read' : 'update',
              resource: { type: 'Invoice', attrs: { tenant: 'acme', status } },
            }),
          });
          assert.equal(response.status, 200, label);
          const body = (await response.json()) as { allow: boolean; rule: string | null; reason?: string };
          assert.equal(body.allow, allow, `${label} ${status}`);
          if (allow) assert.equal(body.rule, rule, label);
          else assert.equal(body.reason, 'paid invoices are immutable', label);
        }
        // A marker recorded after the decisions: the writer keeps order, so once the marker is
        // written every decision event recorded before it would be written too.
        const marker = await createClient(tg, {
          name: 'marker',
          grant_types: ['client_credentials'],
          scope: 'decide',
          api: 'urn:tollgate',
        });
        await eventOf(tg, 'admin.change', (e) => e.data.target === marker.client_id);
        const { events } = (await (await tg.admin$('GET', '/audit?type=decision')).json()) as {
          events: AuditRecord[];
        };
        assert.deepEqual(
          events.map((e) => e.data.allow),
          expected,
          label,
        );
      } finally {
        await tg.close();
      }
    }
  });
});
