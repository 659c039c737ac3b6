import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, sql } from 'kysely';
import { auditKeys, startAuditLog } from '../../src/audit/index.ts';
import { type DatabaseHandle, isRefusedValue, openDatabase } from '../../src/db/index.ts';
import { openPgliteTestDatabase, type TestDatabase } from '../helpers/database.ts';

/**
 * The embedded database runs in a thread of its own (src/db/pglite-thread.ts), reached through
 * a Kysely dialect (src/db/thread-dialect.ts): answers, errors, transactions and notifications
 * must be what PGlite in process gave, and the request thread must stay free while it works.
 */

const scratch = (name: string) =>
  sql.raw(
    `create table ${name} (id int primary key, label text not null, at timestamptz, doc json, bin bytea)`,
  );

describe('the embedded database thread', () => {
  let handle: DatabaseHandle;
  before(async () => {
    handle = await openDatabase({ kind: 'pglite', dataDir: undefined });
    await scratch('items').execute(handle.db);
  });
  after(() => handle?.close());

  it('answers exactly as PGlite in process does: dates, int8, numeric, json, bytea, arrays, nulls', async () => {
    const inProcess = new Kysely({ dialect: new PGliteDialect({ pglite: await PGlite.create() }) });
    try {
      const at = new Date('2026-01-02T03:04:05.678Z');
      const query = sql`select ${at}::timestamptz as at, count(*) as n, 12345678901::int8 as big,
        1.5::numeric as num, ${JSON.stringify({ a: [1, 'x'] })}::json as doc, ${Buffer.from([0, 1, 255])}::bytea as bin,
        array[1, 2]::int[] as list, null::text as nothing, true as yes from (values (1), (2)) v(x)`;
      const mine = (await query.execute(handle.db)).rows;
      const theirs = (await query.execute(inProcess)).rows;
      assert.deepEqual(mine, theirs);
      const row = mine[0] as Record<string, unknown>;
      assert.ok(row.at instanceof Date && row.at.getTime() === at.getTime());
      assert.deepEqual(row.doc, { a: [1, 'x'] });
    } finally {
      await inProcess.destroy();
    }
  });

  it('reports affected rows and returns inserted rows', async () => {
    const inserted = await handle.db
      .insertInto('items' as never)
      .values([
        { id: 1, label: 'one' },
        { id: 2, label: 'two' },
      ] as never)
      .returning(['id'] as never)
      .execute();
    assert.deepEqual(inserted, [{ id: 1 }, { id: 2 }]);
    const result = await sql`update items set label = label || '!' where id <= 2`.execute(handle.db);
    assert.equal(result.numAffectedRows, 2n);
  });

  it('keeps the SQLSTATE and the other fields of PostgreSQL errors', async () => {
    await sql`insert into items (id, label) values (10, 'ten')`.execute(handle.db);
    await assert.rejects(
      sql`insert into items (id, label) values (10, 'again')`.execute(handle.db),
      (error) => {
        const e = error as Record<string, unknown>;
        assert.equal(e.code, '23505');
        assert.equal(e.constraint, 'items_pkey');
        assert.match(String(e.detail), /\(id\)=\(10\) already exists/);
        assert.match(String(e.message), /duplicate key value/);
        return true;
      },
    );
    await assert.rejects(sql`select * from no_such_table`.execute(handle.db), { code: '42P01' });
    await assert.rejects(
      sql`do $$ begin raise exception 'no' using errcode = 'insufficient_privilege'; end $$`.execute(
        handle.db,
      ),
      { code: '42501', message: 'no' },
    );
    // A value PostgreSQL refuses is still told apart from a fault (400, not 500).
    await assert.rejects(sql`select ${'a\u0000b'}::text`.execute(handle.db), (error) =>
      isRefusedValue(error),
    );
  });

  it('commits a transaction, and rolls one back when its callback throws', async () => {
    await handle.db.transaction().execute(async (trx) => {
      await sql`insert into items (id, label) values (20, 'kept')`.execute(trx);
    });
    await assert.rejects(
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into items (id, label) values (21, 'undone')`.execute(trx);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    // A statement failing inside a transaction aborts it; the next transaction starts clean.
    await assert.rejects(
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into items (id, label) values (22, 'undone too')`.execute(trx);
        await sql`insert into items (id, label) values (20, 'duplicate')`.execute(trx);
      }),
      { code: '23505' },
    );
    const ids = await sql<{
      id: number;
    }>`select id from items where id between 20 and 29 order by id`.execute(handle.db);
    assert.deepEqual(ids.rows, [{ id: 20 }]);
  });

  it('lets a query from elsewhere wait while a transaction holds the connection, never see its writes early', async () => {
    const release = Promise.withResolvers<void>();
    const inside = handle.db.transaction().execute(async (trx) => {
      await sql`insert into items (id, label) values (30, 'late')`.execute(trx);
      await release.promise;
    });
    await sleep(20);
    let outsideDone = false;
    const outside = sql<{ n: number }>`select count(*)::int as n from items where id = 30`
      .execute(handle.db)
      .finally(() => {
        outsideDone = true;
      });
    await sleep(50);
    assert.equal(outsideDone, false, 'the transaction holds the one connection until it ends');
    release.resolve();
    await inside;
    assert.deepEqual((await outside).rows, [{ n: 1 }]);
  });

  it('answers many concurrent callers each with their own rows, and serializes their transactions', async () => {
    await sql`create table counter (n int not null)`.execute(handle.db);
    await sql`insert into counter values (0)`.execute(handle.db);
    const reads = Array.from({ length: 300 }, (_, i) =>
      sql<{ n: number; s: string }>`select ${i}::int as n, ${`caller-${i}`}::text as s`.execute(handle.db),
    );
    const increments = Array.from({ length: 50 }, () =>
      handle.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ n: number }>`select n from counter`.execute(trx);
        await sql`update counter set n = ${(rows[0]?.n ?? 0) + 1}`.execute(trx);
      }),
    );
    const answers = await Promise.all(reads);
    await Promise.all(increments);
    for (const [i, answer] of answers.entries()) assert.deepEqual(answer.rows, [{ n: i, s: `caller-${i}` }]);
    assert.deepEqual((await sql`select n from counter`.execute(handle.db)).rows, [{ n: 50 }]);
  });

  it('forwards NOTIFY payloads to listeners, and stops when asked', async () => {
    const heard: string[] = [];
    const stop = await handle.listen('thread_test', (payload) => heard.push(payload));
    await sql`select pg_notify('thread_test', 'first')`.execute(handle.db);
    await sql`select pg_notify('other_channel', 'not mine')`.execute(handle.db);
    await handle.db.transaction().execute(async (trx) => {
      await sql`select pg_notify('thread_test', 'on commit')`.execute(trx);
    });
    for (let i = 0; i < 50 && heard.length < 2; i++) await sleep(10);
    assert.deepEqual(heard, ['first', 'on commit']);
    await stop();
    await sql`select pg_notify('thread_test', 'after stop')`.execute(handle.db);
    await sleep(50);
    assert.deepEqual(heard, ['first', 'on commit']);
  });
});

describe('closing and losing the embedded database thread', () => {
  it('settles every query still pending at close, and releases the data dir for the next process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-thread-'));
    try {
      // The template the global setup made (CACHE_DIR), rather than one in node_modules.
      const handle = await openDatabase({ kind: 'pglite', dataDir: dir, template: process.env.CACHE_DIR });
      await sql`select 1`.execute(handle.db);
      const pending = Array.from({ length: 40 }, (_, i) => sql`select ${i}::int as n`.execute(handle.db));
      const inTransaction = handle.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await sleep(30);
        await sql`select 2`.execute(trx);
      });
      const outcomes = Promise.allSettled([...pending, inTransaction]);
      await handle.close();
      const settled = await Promise.race([outcomes, sleep(10_000).then(() => 'hung' as const)]);
      assert.notEqual(settled, 'hung', 'a query left waiting on a closed database');
      for (const outcome of settled as PromiseSettledResult<unknown>[]) {
        if (outcome.status === 'rejected')
          assert.match(String(outcome.reason), /closed|destroyed/, 'a rejection says why');
      }
      await assert.rejects(sql`select 1`.execute(handle.db));
      const again = await openDatabase({ kind: 'pglite', dataDir: dir });
      assert.deepEqual((await sql`select 1 as one`.execute(again.db)).rows, [{ one: 1 }]);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects every pending query with a clear error when the thread dies, and reports the death once', async () => {
    const failures: Error[] = [];
    const handle = await openDatabase({
      kind: 'pglite',
      dataDir: undefined,
      onThreadFailure: (error) => failures.push(error),
    });
    try {
      assert.ok(handle.runInDatabaseThread);
      await handle.runInDatabaseThread(new URL('./dying-thread.ts', import.meta.url), { afterMs: 0 });
      // Queries sent while the thread is going: none may hang.
      const pending = Array.from({ length: 20 }, () => sql`select pg_sleep(0.01)`.execute(handle.db));
      const settled = await Promise.race([
        Promise.allSettled(pending),
        sleep(10_000).then(() => 'hung' as const),
      ]);
      assert.notEqual(settled, 'hung', 'a query left waiting on a dead thread');
      for (let i = 0; i < 100 && failures.length === 0; i++) await sleep(10);
      assert.equal(failures.length, 1);
      assert.match(failures[0]?.message ?? '', /database thread stopped unexpectedly \(exit code 7\)/);
      const rejected = (settled as PromiseSettledResult<unknown>[]).filter((s) => s.status === 'rejected');
      assert.ok(rejected.length > 0, 'the queries cannot all have run before the thread ended');
      for (const outcome of rejected) assert.match(String(outcome.reason), /stopped unexpectedly/);
      await assert.rejects(sql`select 1`.execute(handle.db), /stopped unexpectedly/);
    } finally {
      await handle.close();
    }
  });
});

describe('the audit writer in the embedded database thread', () => {
  let database: TestDatabase;
  before(async () => {
    // The embedded database in both runs: the thread exists for it alone.
    database = await openPgliteTestDatabase();
  });
  after(() => database?.drop());

  it('writes 20,000 events while the request thread stays free', async () => {
    const keys = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
    const errors: unknown[] = [];
    const log = await startAuditLog(
      database.handle,
      { capacity: 50_000, batchSize: 500, flushMs: 60_000, key: keys.current },
      { onError: (error) => errors.push(error) },
    );
    try {
      for (let i = 0; i < 20_000; i++)
        // Not decisions: those share rows (decision-rows.ts), and this is about one row each.
        log.record({
          type: 'login.failed',
          actor: 'svc-caller',
          subject: `user-${i % 100}`,
          data: { reason: 'bad_password', attempt: i },
        });
      // Let the hand-over to the thread happen before timing, then time the writing alone.
      await sleep(50);
      const busy = performance.eventLoopUtilization();
      let last = performance.now();
      let longest = 0;
      const tick = () => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      };
      const ticker = setInterval(tick, 1);
      const started = performance.now();
      await log.flush();
      const writing = performance.now() - started;
      clearInterval(ticker);
      tick();
      const utilization = performance.eventLoopUtilization(busy).utilization;
      // Writing in process, the loop is busy throughout (utilization 1.0) and the timer does not
      // fire until the end (one gap as long as the writing, seconds). A loaded machine delays
      // an idle timer by tens of milliseconds now and then, hence a bound above that.
      assert.ok(writing > 200, `writing took ${writing.toFixed(0)} ms: too short to tell anything`);
      assert.ok(
        utilization < 0.25,
        `the event loop was busy ${(utilization * 100).toFixed(0)} % of the writing`,
      );
      assert.ok(longest < 250, `the event loop stalled for ${longest.toFixed(0)} ms while writing`);
      assert.deepEqual(errors, []);
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from audit_events where type = 'login.failed'`.execute(database.handle.db);
      assert.deepEqual(rows, [{ n: 20_000 }]);
      // The head the writer reports (checkpoints record it) is the table's last row.
      for (let i = 0; i < 50 && log.lastWritten?.seq !== 20_000; i++) await sleep(20);
      const head = await database.handle.db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      assert.deepEqual(log.lastWritten, { seq: Number(head.seq), hash: head.hash });
    } finally {
      await log.close();
    }
  });
  it('asks callers to wait while its backlog is over half the buffer, and not after', async () => {
    const keys = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
    const log = await startAuditLog(
      database.handle,
      { capacity: 1000, batchSize: 100, flushMs: 60_000, key: keys.current },
      { onError: () => {} },
    );
    try {
      assert.equal(log.backpressure?.(), undefined, 'nothing buffered: nothing to wait for');
      for (let i = 0; i < 600; i++) log.record({ type: 'login.failed', actor: 'svc', data: { i } });
      const waiting = log.backpressure?.();
      assert.ok(waiting instanceof Promise, 'over half the buffer: callers wait');
      assert.equal(log.backpressure?.(), waiting, 'one wave, one promise');
      await log.flush();
      await waiting;
      for (let i = 0; i < 50 && log.backpressure?.() !== undefined; i++) await sleep(20);
      assert.equal(log.backpressure?.(), undefined, 'written: nothing to wait for');
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from audit_events where actor = 'svc'`.execute(database.handle.db);
      assert.deepEqual(rows, [{ n: 600 }], 'nothing dropped');
    } finally {
      await log.close();
    }
  });
});
