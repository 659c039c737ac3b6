import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  AuditLog,
  auditKeys,
  type DecisionCall,
  exportAudit,
  queryAudit,
  verifyAuditChain,
} from '../../src/audit/index.ts';
import { readSegment } from '../../src/audit/segments.ts';
import type { DatabaseHandle } from '../../src/db/index.ts';
import { emptyAuditTable } from '../helpers/audit-rows.ts';
import { ENGINE, suiteDatabase } from '../helpers/database.ts';
import { decisionCall } from '../helpers/decision-calls.ts';

const KEYS = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
const onError = (error: unknown) => {
  throw error;
};

const call = decisionCall;

/** What query shows of each decision of these calls, in order. */
const expected = (...calls: DecisionCall[]) =>
  calls.flatMap((c) =>
    c.checks.map((check, i) => ({
      actor: c.caller ?? null,
      subject: c.subject ?? null,
      data: {
        action: check.action,
        resource: check.resource,
        allow: c.answers[i]?.allow,
        reason: c.answers[i]?.reason,
        ...(c.answers[i]?.detail ? { detail: c.answers[i]?.detail } : {}),
        rule: c.answers[i]?.rule,
        version: c.version,
        latency_us: c.latencies[i],
      },
    })),
  );

describe(`decision segments beside the ${ENGINE} database`, () => {
  let db: DatabaseHandle;
  let dir: string;
  suiteDatabase((opened) => {
    db = opened.handle;
  });
  beforeEach(async () => {
    await emptyAuditTable(db.db);
    dir = join(await mkdtemp(join(tmpdir(), 'tollgate-segments-')), 'audit-segments');
  });
  afterEach(() => rm(join(dir, '..'), { recursive: true, force: true }));

  const options = () => ({
    capacity: 10_000,
    batchSize: 32,
    flushMs: 60_000,
    key: KEYS.current,
    segmentDir: dir,
  });

  /** Two batches of two subjects (one row of 30 decisions), then a login: two rows. */
  async function workload(): Promise<DecisionCall[]> {
    const log = new AuditLog(db, options(), { onError });
    const calls = [call('ann', 20), call('bob', 10, 'svc')];
    for (const c of calls) log.recordDecisions(c);
    log.record({ type: 'login.failed', subject: 'eve', data: { reason: 'bad_password' } });
    await log.close();
    return calls;
  }

  async function segmentFile(): Promise<string> {
    const files = await readdir(dir);
    assert.equal(files.length, 1);
    return join(dir, files[0] as string);
  }

  it('keeps the lines in an owner-only file and only where they are, with their digest, in the row', async () => {
    await workload();
    const { rows } = await sql<{ type: string; subject: string | null; data: string }>`
      select type, subject, data::text as data from audit_events order by seq`.execute(db.db);
    assert.equal(rows.length, 2);
    const [packed] = rows;
    assert.equal(packed?.subject, null, 'two subjects: the row names none');
    const data = JSON.parse(packed?.data ?? '{}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(data), ['format', 'file', 'offset', 'bytes', 'sha256', 'decisions']);
    assert.equal(data.format, 'segment/1');
    assert.equal(data.decisions, 30);
    assert.doesNotMatch(packed?.data ?? '', /ann|bob|Invoice/, 'a database reader learns no decision');
    const file = await segmentFile();
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 2, 'one JSON line per call');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as unknown[]).slice(1, 4)),
      [
        ['gw', 'ann', 4],
        ['svc', 'bob', 4],
      ],
    );
  });

  it('query, export and verify read the decisions back exactly', async () => {
    const calls = await workload();
    const { events } = await queryAudit(db, { limit: 100 }, dir);
    assert.deepEqual(
      events.slice(0, 30).map((e) => ({ actor: e.actor, subject: e.subject, data: e.data })),
      expected(...calls),
    );
    assert.deepEqual(
      events.slice(0, 30).map((e) => [e.seq, e.index]),
      Array.from({ length: 30 }, (_, i) => [1, i]),
    );
    assert.equal(events[30]?.type, 'login.failed');
    const bob = await queryAudit(db, { subject: 'bob', limit: 100 }, dir);
    assert.deepEqual(
      bob.events.map((e) => e.data.resource),
      calls[1]?.checks.map((c) => c.resource),
      "a subject's decisions are found in a segment row shared with others",
    );
    const exported = [];
    for await (const record of exportAudit(db, { subject: 'ann' }, dir)) exported.push(record);
    assert.equal(exported.length, 20);
    assert.deepEqual(
      exported,
      events.filter((e) => e.subject === 'ann'),
      'export gives the same records as query',
    );
    const verdict = await verifyAuditChain(db, KEYS, { segments: dir });
    assert.equal(verdict.ok, true);
    assert.equal(verdict.rows, 2);
  });

  it('verify names the row whose lines were edited, cut short or deleted; query shows the problem', async () => {
    await workload();
    const file = await segmentFile();
    const original = await readFile(file);
    const verdict = async () => verifyAuditChain(db, KEYS, { segments: dir });

    // One decision flipped from deny to allow, same length.
    await writeFile(
      file,
      original.toString('utf8').replace('"no_matching_rule",null', '"allowed",null         '),
    );
    assert.deepEqual((await verdict()).first_bad, {
      seq: 1,
      problem: `decisions in segment ${file.split('/').pop()} do not match their digest (edited)`,
    });
    const { events } = await queryAudit(db, { limit: 100 }, dir);
    assert.equal(events[0]?.seq, 1);
    assert.match(String(events[0]?.data.problem), /do not match their digest/);
    assert.equal(events.length, 2, 'the row as itself, then the login');

    await writeFile(file, original);
    assert.equal((await verdict()).ok, true, 'restored, it holds again');
    await truncate(file, original.length - 5);
    assert.match((await verdict()).first_bad?.problem ?? '', /is cut short \(truncated\)$/);
    await rm(file);
    assert.match((await verdict()).first_bad?.problem ?? '', /is missing \(deleted\)$/);
    assert.match(
      (await verifyAuditChain(db, KEYS)).first_bad?.problem ?? '',
      /keeps no decision segments/,
      'without the directory nothing is taken on trust',
    );
  });

  it('never reads a path a row names other than a segment file of its directory', async () => {
    await writeFile(join(dir, '..', 'secret'), 'not yours');
    const reference = { offset: 0, bytes: 9, sha256: '0'.repeat(64) };
    for (const file of ['../secret', '/etc/passwd', 'decisions-20260101T000000-1.jsonl/../../secret', '']) {
      assert.deepEqual(await readSegment(dir, { ...reference, file }), {
        problem: 'the row does not say where its decisions are (not a segment reference)',
      });
    }
    for (const odd of [{ offset: -1 }, { bytes: 2 ** 40 }, { offset: 1.5 }, { sha256: 'zz' }])
      assert.ok(
        'problem' in
          (await readSegment(dir, { ...reference, file: 'decisions-20260101T000000-1.jsonl', ...odd })),
      );
  });

  it('starts a new file at each start, and every row of both reads back', async () => {
    const first = new AuditLog(db, options(), { onError });
    first.recordDecisions(call('ann', 5));
    await first.close();
    const second = new AuditLog(db, options(), { onError });
    second.recordDecisions(call('bob', 5));
    await second.close();
    assert.equal((await readdir(dir)).length, 2);
    const { events } = await queryAudit(db, { limit: 100 }, dir);
    assert.deepEqual(
      events.map((e) => e.subject),
      [...Array(5).fill('ann'), ...Array(5).fill('bob')],
    );
    assert.equal((await verifyAuditChain(db, KEYS, { segments: dir })).ok, true);
  });

  it('writes a batch retried after a failed insert once, not once per attempt', async () => {
    // The owner makes inserts fail for a while, as an outage would.
    await sql`create function audit_refuse() returns trigger language plpgsql as $$
      begin raise exception 'refused for the test'; end $$`.execute(db.db);
    await sql`create trigger audit_refuse before insert on audit_events
      for each row execute function audit_refuse()`.execute(db.db);
    const errors: unknown[] = [];
    const log = new AuditLog(db, options(), { onError: (error) => errors.push(error) });
    try {
      log.recordDecisions(call('ann', 5));
      log.recordDecisions(call('bob', 5));
      await log.flush();
      await log.flush();
      assert.equal(errors.length, 1, 'one report per outage');
      assert.equal(log.depth, 10, 'the decisions stay buffered');
    } finally {
      await sql`drop trigger audit_refuse on audit_events`.execute(db.db);
      await sql`drop function audit_refuse()`.execute(db.db);
    }
    await log.close();
    assert.equal(log.depth, 0);
    const lines = (await readFile(await segmentFile(), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 2, 'each call appended once');
    const { events } = await queryAudit(db, { limit: 100 }, dir);
    assert.deepEqual(
      events.map((e) => e.subject),
      [...Array(5).fill('ann'), ...Array(5).fill('bob')],
    );
    assert.equal((await verifyAuditChain(db, KEYS, { segments: dir })).ok, true);
  });

  it('keeps a lone decision an ordinary row, not a segment reference', async () => {
    const log = new AuditLog(db, options(), { onError });
    log.recordDecisions(call('ann', 1));
    await log.close();
    const { events } = await queryAudit(db, { limit: 100 }, dir);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.index, undefined);
    assert.deepEqual(events[0]?.data, expected(call('ann', 1))[0]?.data);
  });
});
