import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import {
  AuditLog,
  type AuditLogMetrics,
  auditKeys,
  GENESIS_HASH,
  ThreadedAuditLog,
  verifyAuditChain as verifyWithKeys,
} from '../../src/audit/index.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/index.ts';
import { emptyAuditTable, insertRow, type StoredRow, sha256Link } from '../helpers/audit-rows.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { ENGINE, openTestDatabase, suiteDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTcpProxy } from '../helpers/net.ts';

const KEYS = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
const OPTIONS = { capacity: 10_000, batchSize: 50, flushMs: 60_000, key: KEYS.current };
const verifyAuditChain = (db: DatabaseHandle) => verifyWithKeys(db, KEYS);
const onError = (error: unknown) => {
  throw error;
};

describe(`audit log on ${ENGINE}`, () => {
  let database: TestDatabase;
  let db: DatabaseHandle;
  suiteDatabase((opened) => {
    database = opened;
    db = opened.handle;
  });

  /** The test owns the table (and is a superuser on PostgreSQL): tampering is possible only by switching the trigger off. */
  async function tamper(statement: ReturnType<typeof sql>) {
    await sql`alter table audit_events disable trigger audit_events_no_update_delete`.execute(db.db);
    try {
      await statement.execute(db.db);
    } finally {
      await sql`alter table audit_events enable trigger audit_events_no_update_delete`.execute(db.db);
    }
  }

  const fresh = () => emptyAuditTable(db.db);

  async function write(count: number, log = new AuditLog(db, OPTIONS, { onError })) {
    for (let i = 0; i < count; i++)
      log.record({
        type: 'login.failed',
        actor: `user-${i}`,
        ip: '10.0.0.1',
        data: { n: i, nested: { ok: true } },
      });
    await log.flush();
    return log;
  }

  beforeEach(fresh);

  it('appends batches as one chain that verifies, seq 1…n without gaps', async () => {
    await write(120);
    const verdict = await verifyAuditChain(db);
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    assert.equal(verdict.rows, 120);
    const rows = await db.db
      .selectFrom('audit_events')
      .select(['seq', 'actor', 'data'])
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: 120 }, (_, i) => i + 1),
    );
    assert.deepEqual(rows[7]?.data, { n: 7, nested: { ok: true } });
  });

  it('refuses UPDATE, DELETE and TRUNCATE (the append-only trigger)', async () => {
    await write(3);
    for (const statement of [
      sql`update audit_events set actor = 'mallory' where seq = 2`,
      sql`delete from audit_events where seq = 2`,
      sql`truncate audit_events`,
    ]) {
      await assert.rejects(statement.execute(db.db), /append-only/);
    }
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('names the first edited row when someone who owns the table goes around the trigger', async () => {
    await write(10);
    await tamper(sql`update audit_events set data = '{"n": 99, "nested": {"ok": true}}'::json where seq = 4`);
    await tamper(sql`update audit_events set actor = 'mallory' where seq = 7`);
    const verdict = await verifyAuditChain(db);
    assert.equal(verdict.ok, false);
    assert.equal(verdict.rows, 3);
    assert.deepEqual(verdict.first_bad, {
      seq: 4,
      problem: 'the content does not match its MAC (edited, or forged without the audit key)',
    });
  });

  it('names a deleted row, and an edited hash that hides an edit', async () => {
    await write(10);
    await tamper(sql`delete from audit_events where seq = 6`);
    const deleted = await verifyAuditChain(db);
    assert.equal(deleted.rows, 5);
    assert.deepEqual(deleted.first_bad, { seq: 6, problem: 'row 6 is missing (deleted)' });
    await fresh();
    await write(5);
    // Rewriting a row and its hash still breaks the next row's link.
    await tamper(sql`update audit_events set actor = 'mallory', hash = repeat('a', 64) where seq = 2`);
    const verdict = await verifyAuditChain(db);
    assert.equal(verdict.ok, false);
    assert.equal(verdict.first_bad?.seq, 2);
  });

  it('names the first moved row when rows are reordered, hashes and all', async () => {
    await write(8);
    // Swap rows 3 and 5 whole (every column moves with its seq slot taken by the other).
    await tamper(sql`update audit_events set seq = -3 where seq = 3`);
    await tamper(sql`update audit_events set seq = 3 where seq = 5`);
    await tamper(sql`update audit_events set seq = 5 where seq = -3`);
    const verdict = await verifyAuditChain(db);
    assert.equal(verdict.ok, false);
    assert.equal(verdict.first_bad?.seq, 3);
  });

  it('continues a chain written before it was keyed, and the first keyed row anchors the old rows', async () => {
    // Three rows as an earlier version wrote them: plain SHA-256, no key id.
    let prev = GENESIS_HASH;
    const legacy: StoredRow[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const row: StoredRow = {
        seq,
        occurred_at: new Date(Date.UTC(2026, 0, seq)),
        type: 'login.failed',
        actor: `old-${seq}`,
        subject: null,
        client_id: null,
        ip: null,
        data_text: '{"reason":"bad password"}',
        prev_hash: prev,
        hash: '',
        key_id: null,
      };
      row.hash = sha256Link(prev, row);
      prev = row.hash;
      legacy.push(row);
    }
    for (const row of legacy) await insertRow(row).execute(db.db);
    await write(4);
    const verdict = await verifyAuditChain(db);
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    assert.equal(verdict.legacy_rows, 3);
    assert.deepEqual(verdict.keys, { [KEYS.current.id]: 4 });

    // Anyone can recompute SHA-256, so the old rows can be rewritten consistently among
    // themselves; the first keyed row's MAC covers the last old hash, and names the break.
    let relinked = GENESIS_HASH;
    for (const row of legacy) {
      const edited = { ...row, actor: row.seq === 2 ? 'someone-else' : row.actor, prev_hash: relinked };
      relinked = sha256Link(relinked, edited);
      await tamper(
        sql`update audit_events set actor = ${edited.actor}, prev_hash = ${edited.prev_hash}, hash = ${relinked} where seq = ${row.seq}`,
      );
    }
    const broken = await verifyAuditChain(db);
    assert.equal(broken.first_bad?.seq, 4, JSON.stringify(broken));
    await tamper(sql`update audit_events set prev_hash = ${relinked} where seq = 4`);
    assert.match((await verifyAuditChain(db)).first_bad?.problem ?? '', /does not match its MAC/);
  });

  it('keeps one valid chain with concurrent writers', async () => {
    // Separate connection pools on PostgreSQL (as separate instances have); one PGlite otherwise.
    const other =
      ENGINE === 'postgres' && database.url
        ? await openDatabase({ kind: 'postgres', url: database.url })
        : db;
    try {
      const writers = [
        new AuditLog(db, { ...OPTIONS, batchSize: 7 }, { onError }),
        new AuditLog(other, { ...OPTIONS, batchSize: 5 }, { onError }),
      ];
      for (let round = 0; round < 10; round++) {
        for (const [w, writer] of writers.entries())
          for (let i = 0; i < 20; i++)
            writer.record({ type: 'login.failed', actor: `writer-${w}`, data: { round, i } });
        await Promise.all(writers.map((writer) => writer.flush()));
      }
      const verdict = await verifyAuditChain(db);
      assert.deepEqual(verdict.ok && verdict.rows, 400);
    } finally {
      if (other !== db) await other.close();
    }
  });

  it('records that events were dropped when the buffer was full, and how many', async () => {
    const counted = { dropped: 0, depth: 0, written: 0 };
    const metrics: AuditLogMetrics = {
      depth: (v) => (counted.depth = v),
      dropped: (n) => (counted.dropped += n),
      written: (n) => (counted.written += n),
      failed: () => {},
    };
    const log = new AuditLog(db, { ...OPTIONS, capacity: 3 }, { onError, metrics });
    for (let i = 0; i < 10; i++) log.record({ type: 'login.failed', data: { i } });
    assert.equal(log.depth, 3);
    assert.equal(counted.dropped, 7);
    await log.flush();
    const rows = await db.db.selectFrom('audit_events').select(['type', 'data']).orderBy('seq').execute();
    assert.equal(rows[0]?.type, 'audit.dropped');
    assert.equal(rows[0]?.data.count, 7);
    assert.deepEqual(
      rows.slice(1).map((r) => r.data.i),
      [0, 1, 2],
    );
    assert.equal(counted.written, 4);
    assert.equal(counted.depth, 0);
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('stores what PostgreSQL and canonical JSON would refuse, cleaned instead of failing every retry', async () => {
    const log = new AuditLog(db, OPTIONS, { onError });
    log.record({
      type: 'login.failed',
      actor: 'nul\u0000byte',
      data: { lone: '\uD800x', when: new Date(0) },
    });
    await log.flush();
    const row = await db.db.selectFrom('audit_events').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.actor, 'nul\uFFFDbyte');
    assert.deepEqual(row.data, { lone: '\uFFFDx', when: '1970-01-01T00:00:00.000Z' });
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('keeps an event whose data cannot be serialized, saying why, instead of failing the batch', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const log = new AuditLog(db, OPTIONS, { onError });
    log.record({ type: 'admin.change', actor: 'a', data: { big: 10n } });
    log.record({ type: 'admin.change', actor: 'b', data: cyclic });
    log.record({ type: 'admin.change', actor: 'c', data: { fine: true } });
    await log.flush();
    const rows = await db.db.selectFrom('audit_events').select(['actor', 'data']).orderBy('seq').execute();
    assert.deepEqual(
      rows.map((r) => [r.actor, Object.keys(r.data)]),
      [
        ['a', ['unserializable']],
        ['b', ['unserializable']],
        ['c', ['fine']],
      ],
    );
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('keeps events buffered while writing fails, and writes them once it works again', {
    skip: skipUnless('postgres'),
  }, async () => {
    // The writer reaches the real server through a proxy the test takes away and brings back.
    const url = new URL(database.url ?? '');
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const errors: unknown[] = [];
    const through = await openDatabase({ kind: 'postgres', url: viaProxy.toString() });
    try {
      const log = new AuditLog(through, OPTIONS, { onError: (e) => errors.push(e) });
      log.record({ type: 'login.failed', actor: 'before' });
      await log.flush();
      assert.equal(log.depth, 0, 'written while the database is there');

      await proxy.stop();
      for (const actor of ['kept-1', 'kept-2']) log.record({ type: 'login.failed', actor });
      await log.flush();
      await log.flush();
      assert.equal(log.depth, 2);
      assert.equal(errors.length, 1, 'one report per outage, not one per retry');
      const actors = async () =>
        (await db.db.selectFrom('audit_events').select('actor').orderBy('seq').execute()).map((r) => r.actor);
      assert.deepEqual(await actors(), ['before'], 'nothing written meanwhile');

      await proxy.start();
      log.record({ type: 'login.failed', actor: 'after' });
      // The pool may lose a connection or two to the outage before it reconnects.
      const deadline = Date.now() + 10_000;
      while (log.depth > 0 && Date.now() < deadline) {
        await log.flush();
        if (log.depth > 0) await sleep(50);
      }
      assert.equal(log.depth, 0, 'the buffer is written once the database is back');
      assert.deepEqual(await actors(), ['before', 'kept-1', 'kept-2', 'after'], 'once each, in order');
      const verdict = await verifyAuditChain(db);
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.equal(verdict.rows, 4);
    } finally {
      await through.close();
      await proxy.close();
    }
  });
});

describe('the audit writer thread', { skip: skipUnless('postgres') }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(() => database.drop());

  it('is replaced when it dies, and the possible loss is recorded in the chain', async () => {
    const marker = join(await mkdtemp(join(tmpdir(), 'tollgate-thread-')), 'marker');
    process.env.TOLLGATE_TEST_THREAD_MARKER = marker;
    const errors: string[] = [];
    const log = await ThreadedAuditLog.start(
      database.url ?? '',
      OPTIONS,
      { onError: (e) => errors.push(String(e)) },
      new URL('./failing-thread.ts', import.meta.url),
    );
    try {
      for (const actor of ['a', 'b', 'c']) log.record({ type: 'login.failed', actor });
      // The first thread dies on these; wait for its successor to have taken over.
      for (let i = 0; i < 100 && !errors.some((e) => e.includes('starting another')); i++) await sleep(20);
      // Recorded while the successor may still be starting: they wait for it, and so does flush.
      for (const actor of ['d', 'e']) log.record({ type: 'login.failed', actor });
      await log.flush();
      const rows = await database.handle.db
        .selectFrom('audit_events')
        .select(['type', 'actor', 'data'])
        .orderBy('seq')
        .execute();
      assert.deepEqual(
        rows.map((r) => [r.type, r.actor ?? r.data.at_most]),
        [
          ['audit.dropped', 3],
          ['login.failed', 'd'],
          ['login.failed', 'e'],
        ],
      );
      assert.ok(errors.some((e) => e.includes('the audit writer thread stopped')));
      assert.equal((await verifyAuditChain(database.handle)).ok, true);
    } finally {
      await log.close();
      delete process.env.TOLLGATE_TEST_THREAD_MARKER;
    }
  });
});

describe('audit log privileges on PostgreSQL', {
  skip: skipUnless('postgres'),
}, () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(() => database.drop());

  it('lets a service role that does not own the table append and read, never rewrite', async () => {
    const role = `tollgate_service_${Date.now()}`;
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // The grant the README documents for the service's role.
      await admin.query(`create role ${role} login`);
      await admin.query(`grant select, insert on audit_events to ${role}`);
      const url = new URL(database.url ?? '');
      url.username = role;
      const service = new pg.Client({ connectionString: url.toString() });
      await service.connect();
      try {
        await service.query(
          `insert into audit_events (seq, occurred_at, type, data, prev_hash, hash) values (1, now(), 'x', '{}', '0', '0')`,
        );
        await assert.rejects(
          service.query('update audit_events set type = $1', ['y']),
          /permission denied|append-only/,
        );
        await assert.rejects(service.query('delete from audit_events'), /permission denied|append-only/);
        await assert.rejects(
          service.query('alter table audit_events disable trigger audit_events_no_update_delete'),
          /must be owner/,
        );
      } finally {
        await service.end();
      }
    } finally {
      await admin.query(`drop owned by ${role}`).catch(() => {});
      await admin.end();
      const cleanup = new pg.Client({ connectionString: database.url });
      await cleanup.connect();
      await cleanup.query(`drop role if exists ${role}`).catch(() => {});
      await cleanup.end();
    }
  });
});
