import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { type AuditKey, auditKeys, linkHash } from '../../src/audit/index.ts';
import { type Database, takeAdvisoryLock } from '../../src/db/index.ts';
import { insertRow, type StoredRow, sha256Link } from '../helpers/audit-rows.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { runTollgate } from '../helpers/cli.ts';
import { ENGINE } from '../helpers/database.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';

/**
 * Issue 10: someone with full write access to the database but without the audit key cannot
 * append, edit, delete or re-link audit rows without `tollgate audit verify` naming the first
 * bad row; a deleted tail, which leaves an intact shorter chain, is caught by a head recorded
 * outside the database (`--expect-head`, or the checkpoints in the service's log).
 */
const KEY = randomBytes(32);
const ENV = {
  AUDIT_KEY: KEY.toString('base64'),
  AUDIT_FLUSH_MS: '20',
  AUDIT_CHECKPOINT_SECONDS: '1',
  KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
};

interface Verdict {
  ok: boolean;
  rows: number;
  head: { seq: number; hash: string } | null;
  keys: Record<string, number>;
  legacy_rows: number;
  first_bad?: { seq: number; problem: string };
  checkpoints?: { checked: number; failed: number; problems: { line: number; problem: string }[] };
}

async function withInstance(run: (tg: TestInstance) => Promise<void>, env: Record<string, string> = {}) {
  const tg = await startTestInstance({ ...ENV, ...env });
  try {
    await run(tg);
  } finally {
    await tg.close();
  }
}

/** The CLI pointed at this instance as its admin. */
const cliEnv = (tg: TestInstance) => ({
  TOLLGATE_URL: tg.url,
  TOLLGATE_CLIENT_ID: tg.admin.client_id,
  TOLLGATE_CLIENT_SECRET: tg.admin.client_secret,
});

const dbOf = (tg: TestInstance): Kysely<Database> => tg.database.handle.db;

/**
 * Rows the instance writes itself: each admin token is a `token.issued` event, written before
 * the next is asked for, so that each has a row of its own (tokens answered together share one).
 */
async function issueTokens(tg: TestInstance, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const before = await headSeq(tg);
    await tg.adminToken();
    while ((await headSeq(tg)) === before) await sleep(20);
  }
  await settled(tg);
}

async function headSeq(tg: TestInstance): Promise<number> {
  const { max } = await dbOf(tg)
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('seq').as('max'))
    .executeTakeFirstOrThrow();
  return Number(max ?? 0);
}

/** Waits until the writer has nothing left (the table stops growing). */
async function settled(tg: TestInstance): Promise<number> {
  let last = -1;
  for (;;) {
    await sleep(120);
    const seq = await headSeq(tg);
    if (seq === last) return seq;
    last = seq;
  }
}

/** The table owner's attack: past the append-only trigger with session_replication_role. */
async function asOwner(tg: TestInstance, statements: ReturnType<typeof sql>[]): Promise<void> {
  await dbOf(tg)
    .transaction()
    .execute(async (trx) => {
      // Between two appends of the instance's own writer: one that read the head before this
      // change and wrote after it would break the chain where the test expects it intact.
      await takeAdvisoryLock(trx, 'auditAppend');
      await sql`set local session_replication_role = replica`.execute(trx);
      for (const statement of statements) await statement.execute(trx);
    });
}

async function verify(
  tg: TestInstance,
  ...args: string[]
): Promise<{ code: number | null; verdict: Verdict; stderr: string }> {
  const run = await runTollgate(['audit', 'verify', '--json', ...args], cliEnv(tg));
  assert.ok(run.stdout, `verify printed nothing: ${run.stderr}`);
  return { code: run.code, verdict: JSON.parse(run.stdout) as Verdict, stderr: run.stderr };
}

async function assertIntact(tg: TestInstance): Promise<Verdict> {
  const { code, verdict, stderr } = await verify(tg);
  assert.equal(code, 0, stderr);
  assert.equal(verdict.ok, true);
  return verdict;
}

async function rowsFrom(tg: TestInstance, seq: number): Promise<StoredRow[]> {
  return dbOf(tg)
    .selectFrom('audit_events')
    .selectAll()
    .select(sql<string>`data::text`.as('data_text'))
    .where('seq', '>=', seq)
    .orderBy('seq')
    .execute() as Promise<StoredRow[]>;
}

/** A back-dated admin.change after `last`, linked with `link` (the forger's best effort). */
function forgedRow(last: StoredRow, keyId: string | null, link: (prev: string, row: StoredRow) => string) {
  const row: StoredRow = {
    seq: last.seq + 1,
    occurred_at: new Date(last.occurred_at.getTime() - 86_400_000),
    type: 'admin.change',
    actor: 'tollgate-admin',
    subject: null,
    client_id: null,
    ip: '10.0.0.7',
    data_text: JSON.stringify({ action: 'client.grant', target: 'mallory', after: { scope: 'admin' } }),
    prev_hash: last.hash,
    hash: '',
    key_id: keyId,
  };
  row.hash = link(last.hash, row);
  return row;
}

const foreignKey = (): AuditKey =>
  auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) }).current;

describe(`audit tampering on ${ENGINE}`, () => {
  it('verify --json prints ok, rows and the head, with the key that MACs every row', async () => {
    await withInstance(async (tg) => {
      await issueTokens(tg, 3);
      const verdict = await assertIntact(tg);
      const [last] = await rowsFrom(tg, verdict.head?.seq ?? 0);
      assert.deepEqual(verdict.head, { seq: last?.seq, hash: last?.hash });
      assert.equal(verdict.rows, last?.seq);
      assert.equal(verdict.legacy_rows, 0);
      assert.deepEqual(Object.keys(verdict.keys), [last?.key_id]);
      assert.equal(verdict.first_bad, undefined);
      const text = await runTollgate(['audit', 'verify'], cliEnv(tg));
      assert.match(
        text.stdout,
        /^Audit chain intact: \d+ events, head \d+:[0-9a-f]{64} \(\d+ under key [\w-]{16}\)\./,
      );
      const expected = await runTollgate(
        ['audit', 'verify', '--expect-head', `${verdict.head?.seq}:${verdict.head?.hash}`],
        cliEnv(tg),
      );
      assert.equal(expected.code, 0, expected.stderr);
      assert.match(expected.stdout, new RegExp(`Row ${verdict.head?.seq} still has the expected hash`));
    });
  });

  it('names a row the owner edited and re-hashed from there on (without the key)', async () => {
    await withInstance(async (tg) => {
      await issueTokens(tg, 14);
      // Row 10 gets new content; every hash after it is recomputed the only way the owner can:
      // plain SHA-256, keeping the key id (a), or dropping it as if written before keys (b).
      for (const keepKeyId of [true, false]) {
        const rows = await rowsFrom(tg, 10);
        let prev = rows[0]?.prev_hash ?? '';
        const statements = rows.map((row, i) => {
          const edited = i === 0 ? { ...row, actor: 'someone-else' } : row;
          const next = sha256Link(prev, edited);
          const statement = sql`update audit_events set actor = ${edited.actor}, prev_hash = ${prev}, hash = ${next},
            key_id = ${keepKeyId ? row.key_id : null} where seq = ${row.seq}`;
          prev = next;
          return statement;
        });
        await asOwner(tg, statements);
        const { code, verdict } = await verify(tg);
        assert.equal(code, 1);
        assert.equal(verdict.ok, false);
        assert.equal(verdict.first_bad?.seq, 10, JSON.stringify(verdict));
        assert.match(
          verdict.first_bad?.problem ?? '',
          keepKeyId ? /does not match its MAC/ : /without an audit key after the keyed chain began/,
        );
        assert.equal(verdict.rows, 9, 'the rows before it still verify');
      }
    });
  });

  it('names the first row of a deletion in the middle', async () => {
    await withInstance(async (tg) => {
      await issueTokens(tg, 14);
      await asOwner(tg, [sql`delete from audit_events where seq in (10, 11)`]);
      const { code, verdict, stderr } = await verify(tg);
      assert.equal(code, 1);
      assert.deepEqual(verdict.first_bad, { seq: 10, problem: 'rows 10–11 are missing (deleted)' });
      assert.match(stderr, /audit chain BROKEN at seq 10: rows 10–11 are missing/);
    });
  });

  it("names a row MAC'd under another key, and accepts a previous key only when it is given", async () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    const kek = randomBytes(32).toString('base64');
    await withInstance(
      async (tg) => {
        await issueTokens(tg, 3);
        // Another deployment's key (or a retired one nobody configured): a valid MAC, unknown id.
        const [last] = (await rowsFrom(tg, 1)).slice(-1) as StoredRow[];
        const other = foreignKey();
        const forged = forgedRow(last, other.id, (prev, row) =>
          linkHash(other, prev, { ...row, data: row.data_text }),
        );
        await asOwner(tg, [insertRow(forged)]);
        const { code, verdict } = await verify(tg);
        assert.equal(code, 1);
        assert.equal(verdict.first_bad?.seq, forged.seq);
        assert.match(
          verdict.first_bad?.problem ?? '',
          new RegExp(`audit key ${other.id}, which is not one of the keys given`),
        );
      },
      { KEY_ENCRYPTION_KEY: kek, AUDIT_KEY: first.toString('base64') },
    );
    // Rotation: rows under the first key, then under the second; both verify while the first
    // is listed in AUDIT_PREVIOUS_KEYS, and the first row under it is named once it is not.
    const tg = await startTestInstance({
      ...ENV,
      KEY_ENCRYPTION_KEY: kek,
      AUDIT_KEY: first.toString('base64'),
    });
    try {
      await issueTokens(tg, 2);
      const rotated = await startTestInstance(
        {
          ...ENV,
          KEY_ENCRYPTION_KEY: kek,
          AUDIT_KEY: second.toString('base64'),
          AUDIT_PREVIOUS_KEYS: first.toString('base64'),
        },
        { shareWith: tg, database: ENGINE === 'postgres' ? undefined : tg.database },
      );
      try {
        await rotated.adminToken();
        await settled(rotated);
        const both = await verify(rotated);
        assert.equal(both.code, 0, both.stderr);
        assert.equal(Object.keys(both.verdict.keys).length, 2, JSON.stringify(both.verdict));
        // The first instance knows only the first key (and its derived one): the rows MAC'd
        // under the second are not its to accept.
        const onlyFirst = await verify(tg);
        assert.equal(onlyFirst.code, 1);
        assert.match(onlyFirst.verdict.first_bad?.problem ?? '', /which is not one of the keys given/);
      } finally {
        await rotated.tollgate.close();
      }
    } finally {
      await tg.close();
    }
  });

  it('catches a deleted tail with --expect-head and with the logged checkpoints, and says so in the log', async () => {
    await withInstance(
      async (tg) => {
        await issueTokens(tg, 6);
        const before = await assertIntact(tg);
        const head = before.head as { seq: number; hash: string };
        // A checkpoint that covers the head is in the service's log.
        const checkpoint = await checkpointAtLeast(tg, head.seq);
        await asOwner(tg, [sql`delete from audit_events where seq > ${head.seq - 3}`]);

        // The shorter chain is intact in itself: only an anchor shows what is gone.
        const plain = await verify(tg);
        assert.equal(plain.code, 0, 'nothing in the table itself shows a deleted tail');

        const expected = await verify(tg, '--expect-head', `${head.seq}:${head.hash}`);
        assert.equal(expected.code, 1);
        assert.equal(expected.verdict.first_bad?.seq, head.seq);
        assert.match(
          expected.verdict.first_bad?.problem ?? '',
          /is missing: the table ends at seq|another hash/,
        );

        const logFile = join(tg.dataDir, 'service.log');
        await writeFile(logFile, `${tg.logs.join('\n')}\n`);
        const anchored = await verify(tg, '--checkpoints', logFile);
        assert.equal(anchored.code, 1);
        assert.ok((anchored.verdict.checkpoints?.failed ?? 0) >= 1);
        assert.ok(
          anchored.verdict.checkpoints?.problems.some((p) => /were deleted|another hash/.test(p.problem)),
          JSON.stringify(anchored.verdict.checkpoints),
        );
        assert.ok(checkpoint.seq >= head.seq);
        // The instance wrote rows that are gone: it says so itself, in its log and its metrics.
        await waitForLog(tg, /AUDIT TAMPERING/);
        const metrics = await (await fetch(tg.tollgate.metricsUrl ?? '')).text();
        assert.match(metrics, /^tollgate_audit_tampering_total [1-9]/m);
      },
      { METRICS_PORT: String(await freePort()) },
    );
  });

  it('checks every checkpoint in a log file: all match, a forged one is named, an empty file fails', async () => {
    await withInstance(async (tg) => {
      await issueTokens(tg, 3);
      const { seq } = await assertIntact(tg).then((v) => v.head as { seq: number });
      await checkpointAtLeast(tg, seq);
      const logFile = join(tg.dataDir, 'service.log');
      // Lines that are not JSON, or JSON without a checkpoint, are skipped.
      await writeFile(logFile, `not json\n${tg.logs.join('\n')}\n{"msg":"other"}\n`);
      const good = await runTollgate(['audit', 'verify', '--checkpoints', logFile], cliEnv(tg));
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /\d+ checkpoints in .* match the table \(latest: seq \d+ at /);
      // As the README pipes a compose log in: the file is standard input.
      const piped = await runTollgate(
        ['audit', 'verify', '--checkpoints', '-'],
        cliEnv(tg),
        `${tg.logs.join('\n')}\n`,
      );
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stdout, /checkpoints in standard input match the table/);

      const line = tg.logs.find((l) => l.includes('"audit_checkpoint"')) as string;
      const forged = JSON.parse(line) as { audit_checkpoint: { seq: number } };
      forged.audit_checkpoint.seq += 1000;
      await writeFile(logFile, `${line}\n${JSON.stringify(forged)}\n`);
      const bad = await verify(tg, '--checkpoints', logFile);
      assert.equal(bad.code, 1);
      assert.deepEqual(
        bad.verdict.checkpoints?.problems.map((p) => [p.line, p.problem]),
        [[2, 'its MAC is not valid under the audit keys (forged, or another deployment)']],
      );

      await writeFile(logFile, 'nothing here\n');
      const empty = await runTollgate(['audit', 'verify', '--checkpoints', logFile], {
        DATA_DIR: tg.dataDir,
      });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /holds no audit checkpoints/);

      const malformed = await runTollgate(['audit', 'verify', '--expect-head', '12'], {
        DATA_DIR: tg.dataDir,
      });
      assert.equal(malformed.code, 2);
      assert.match(malformed.stderr, /--expect-head: expected SEQ:HASH/);
    });
  });

  it('logs a final checkpoint of the last events at shutdown', async () => {
    const tg = await startTestInstance({ ...ENV, AUDIT_CHECKPOINT_SECONDS: '3600' });
    try {
      await issueTokens(tg, 2);
    } finally {
      await tg.tollgate.close();
    }
    const [last] = (await rowsFrom(tg, 1)).slice(-1);
    const checkpoints = tg.logs.filter((l) => l.includes('"audit_checkpoint"'));
    assert.equal(checkpoints.length, 1, 'one, at shutdown (the interval is an hour)');
    const { audit_checkpoint } = JSON.parse(checkpoints[0] as string) as {
      audit_checkpoint: { seq: number; hash: string };
    };
    assert.deepEqual([audit_checkpoint.seq, audit_checkpoint.hash], [last?.seq, last?.hash]);
    await tg.database.drop();
  });
});

describe('a forged append by the service role', {
  skip: skipUnless('postgres'),
}, () => {
  it('is named by verify, whether linked with SHA-256 or with a guessed key', async () => {
    await withInstance(async (tg) => {
      await issueTokens(tg, 3);
      const role = `tollgate_service_${randomBytes(4).toString('hex')}`;
      const owner = new pg.Client({ connectionString: tg.database.url });
      await owner.connect();
      // What the README's production section gives the service: SELECT and INSERT on the table.
      await owner.query(`create role ${role} login`);
      await owner.query(`grant select, insert on audit_events to ${role}`);
      const url = new URL(tg.database.url ?? '');
      url.username = role;
      const service = new pg.Client({ connectionString: url.toString() });
      await service.connect();
      try {
        for (const attempt of ['sha256', 'guessed-key'] as const) {
          const [last] = (await rowsFrom(tg, 1)).slice(-1) as StoredRow[];
          const guess = foreignKey();
          const row =
            attempt === 'sha256'
              ? forgedRow(last, null, sha256Link)
              : forgedRow(last, last.key_id, (prev, r) =>
                  linkHash({ ...guess, id: last.key_id ?? '' }, prev, { ...r, data: r.data_text }),
                );
          // The same INSERT a forger would send, as the service role.
          const insert = insertRow(row).compile(dbOf(tg));
          await service.query(insert.sql, [...insert.parameters]);
          const { code, verdict } = await verify(tg);
          assert.equal(code, 1, attempt);
          assert.equal(verdict.first_bad?.seq, row.seq, `${attempt}: ${JSON.stringify(verdict)}`);
          assert.match(
            verdict.first_bad?.problem ?? '',
            attempt === 'sha256' ? /without an audit key/ : /does not match its MAC/,
          );
          // The service role cannot take it back; the owner removes it for the next attempt
          // (with whatever the instance appended after it, once it has: verify's own admin token
          // is an event, and one written after the delete would leave a gap the next attempt's
          // verify names before the forged row).
          await assert.rejects(
            service.query('delete from audit_events where seq = $1', [row.seq]),
            /permission denied|append-only/,
          );
          await settled(tg);
          await asOwner(tg, [sql`delete from audit_events where seq >= ${row.seq}`]);
        }
      } finally {
        await service.end();
        await owner.query(`revoke all on audit_events from ${role}`);
        await owner.query(`drop role ${role}`);
        await owner.end();
      }
    });
  });
});

/** The first checkpoint in the instance's log whose seq is at least `seq`. */
async function checkpointAtLeast(tg: TestInstance, seq: number): Promise<{ seq: number }> {
  for (let i = 0; i < 60; i++) {
    for (const line of tg.logs) {
      if (!line.includes('"audit_checkpoint"')) continue;
      const { audit_checkpoint } = JSON.parse(line) as { audit_checkpoint: { seq: number } };
      if (audit_checkpoint.seq >= seq) return audit_checkpoint;
    }
    await sleep(100);
  }
  throw new Error(`no checkpoint at or after seq ${seq} was logged`);
}

async function waitForLog(tg: TestInstance, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (tg.logs.some((line) => pattern.test(line))) return;
    await sleep(100);
  }
  throw new Error(`nothing matching ${pattern} was logged`);
}
