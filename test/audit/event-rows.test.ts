import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Recorded } from '../../src/audit/decision-rows.ts';
import { EVENT_ROW_SPAN_MS, EVENTS_PER_ROW, EventRow } from '../../src/audit/event-row.ts';
import {
  type AuditEvent,
  AuditLog,
  type AuditRecord,
  auditKeys,
  exportAudit,
  queryAudit,
  verifyAuditChain,
} from '../../src/audit/index.ts';
import { eventsIn, RowBuffer } from '../../src/audit/row-buffer.ts';
import type { DatabaseHandle } from '../../src/db/index.ts';
import { emptyAuditTable } from '../helpers/audit-rows.ts';
import { ENGINE, suiteDatabase } from '../helpers/database.ts';

const KEYS = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
const OPTIONS = { capacity: 10_000, batchSize: 1000, flushMs: 60_000, key: KEYS.current };
const onError = (error: unknown) => {
  throw error;
};

/** A token answered, as auditProviderEvents records it. */
function issued(client: string, subject: string | undefined, jti: string, ip = '10.0.0.8'): AuditEvent {
  return {
    type: 'token.issued',
    actor: client,
    subject,
    clientId: client,
    ip,
    data: {
      grant_type: 'client_credentials',
      jti,
      aud: 'https://api.test',
      scope: 'read',
      exp: 1_900_000_000,
    },
  };
}

const refused = (client: string): AuditEvent => ({
  type: 'token.refused',
  actor: client,
  clientId: client,
  ip: '10.0.0.9',
  data: { grant_type: 'client_credentials', error: 'invalid_client' },
});

/** The rows a buffer makes of these events, as the sizes of the rows one transaction takes. */
function rowSizes(recorded: Recorded[]): number[] {
  const buffer = new RowBuffer();
  for (const r of recorded) buffer.add(r);
  return buffer.peek(Number.POSITIVE_INFINITY).rows.map(eventsIn);
}

describe('packing token events into rows', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (ms: number) => new Date(t0 + ms);

  it('packs consecutive events of one type; another type or any other event ends the row, so order is kept', () => {
    const recorded: Recorded[] = [
      { event: issued('a', 'a', 'j1'), at: at(0) },
      { event: issued('b', 'ann', 'j2'), at: at(1) },
      { event: issued('a', 'a', 'j3'), at: at(2) },
      { event: refused('a'), at: at(3) },
      { event: refused('b'), at: at(4) },
      { event: { type: 'admin.change', actor: 'root', data: { op: 'x' } }, at: at(5) },
      { event: issued('a', 'a', 'j4'), at: at(6) },
      { event: { type: 'decision', data: { odd: true } }, at: at(7) },
      { event: issued('a', 'a', 'j5'), at: at(8) },
      { event: issued('a', 'a', 'j6'), at: at(9) },
    ];
    assert.deepEqual(rowSizes(recorded), [3, 2, 1, 1, 1, 2]);
  });

  it(`holds at most ${EVENTS_PER_ROW} events and ${EVENT_ROW_SPAN_MS} ms in one row`, () => {
    const many = Array.from({ length: EVENTS_PER_ROW + 1 }, (_, i) => ({
      event: issued('a', 'a', `j${i}`),
      at: at(0),
    }));
    assert.deepEqual(rowSizes(many), [EVENTS_PER_ROW, 1]);
    const slow = [0, EVENT_ROW_SPAN_MS, EVENT_ROW_SPAN_MS + 1].map((ms) => ({
      event: issued('a', 'a', `j${ms}`),
      at: at(ms),
    }));
    assert.deepEqual(rowSizes(slow), [2, 1]);
  });

  it('fills a column only where every event agrees, and writes a row of one as that event', () => {
    const row = new EventRow('token.issued', t0);
    const add = (event: AuditEvent, ms: number) =>
      row.add(
        ms,
        event.type,
        event.actor,
        event.subject,
        event.clientId,
        event.ip,
        JSON.stringify([ms, event.actor, event.subject ?? null, event.clientId, event.ip, event.data]),
      );
    add(issued('a', 'ann', 'j1'), t0);
    assert.deepEqual(row.single, { event: issued('a', 'ann', 'j1'), at: at(0) });
    add(issued('a', 'bob', 'j2'), t0 + 5);
    assert.equal(row.single, undefined);
    assert.deepEqual(
      [row.column('actor'), row.column('subject'), row.column('clientId'), row.column('ip'), row.last],
      ['a', undefined, 'a', '10.0.0.8', t0 + 5],
    );
  });
});

describe(`packed token event rows on ${ENGINE}: query, export and verify read them as events`, () => {
  let db: DatabaseHandle;
  suiteDatabase((opened) => {
    db = opened.handle;
  });
  beforeEach(() => emptyAuditTable(db.db));

  /** Six tokens for clients a and b (b's for user ann), two refusals, an admin change, three more tokens; 100 ms apart. */
  function workload(start: Date): { event: AuditEvent; at: Date }[] {
    const at = (i: number) => new Date(start.getTime() + i * 100);
    const events: AuditEvent[] = [
      ...Array.from({ length: 6 }, (_, i) =>
        i % 2 ? issued('b', 'ann', `j${i}`, '2001:db8::1') : issued('a', 'a', `j${i}`),
      ),
      refused('a'),
      refused('b'),
      { type: 'admin.change', actor: 'root', subject: 'a', data: { op: 'client.updated' } },
      ...Array.from({ length: 3 }, (_, i) => issued('a', 'a', `k${i}`)),
    ];
    return events.map((event, i) => ({ event, at: at(i) }));
  }

  async function write(recorded: { event: AuditEvent; at: Date }[], rowEach = false): Promise<void> {
    const log = new AuditLog(db, OPTIONS, { onError });
    for (const { event, at } of recorded) {
      log.record(event, at);
      // A flush closes the open row: every event gets a row of its own.
      if (rowEach) await log.flush();
    }
    await log.flush();
  }

  const rowCount = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from audit_events`.execute(db.db)).rows[0]?.n;

  /** What a reader sees of an event, without where it is stored. */
  const seen = ({ seq: _seq, hash: _hash, index: _index, ...record }: AuditRecord) => record;

  it('writes four rows for twelve events; the chain verifies; each event reads back exactly as its own row holds it', async () => {
    const recorded = workload(new Date(Date.now() - 60_000));
    await write(recorded, true);
    assert.equal(await rowCount(), 12);
    const alone = (await queryAudit(db, { limit: 100 })).events;
    await emptyAuditTable(db.db);

    await write(recorded);
    assert.equal(await rowCount(), 4);
    const verdict = await verifyAuditChain(db, KEYS);
    assert.equal(verdict.ok, true);
    assert.equal(verdict.rows, 4);
    const packed = (await queryAudit(db, { limit: 100 })).events;
    assert.deepEqual(packed.map(seen), alone.map(seen));
    assert.deepEqual(
      packed.map((e) => [e.seq, e.index]),
      [...[0, 1, 2, 3, 4, 5].map((i) => [1, i]), [2, 0], [2, 1], [3, undefined], [4, 0], [4, 1], [4, 2]],
    );
    const { rows } = await sql<{
      actor: string | null;
      subject: string | null;
      client_id: string | null;
      ip: string | null;
    }>`
      select actor, subject, client_id, ip from audit_events where seq = 1`.execute(db.db);
    assert.deepEqual(
      rows,
      [{ actor: null, subject: null, client_id: null, ip: null }],
      'mixed columns are left empty',
    );
  });

  it('a subject filter finds the events of that subject inside shared rows, and only those', async () => {
    await write(workload(new Date(Date.now() - 60_000)));
    const ann = (await queryAudit(db, { subject: 'ann', limit: 100 })).events;
    assert.deepEqual(
      ann.map((e) => [e.type, e.subject, e.data.jti]),
      [
        ['token.issued', 'ann', 'j1'],
        ['token.issued', 'ann', 'j3'],
        ['token.issued', 'ann', 'j5'],
      ],
    );
    const a = (await queryAudit(db, { subject: 'a', type: 'token.issued', limit: 100 })).events;
    assert.deepEqual(
      a.map((e) => e.data.jti),
      ['j0', 'j2', 'j4', 'k0', 'k1', 'k2'],
    );
    assert.deepEqual((await queryAudit(db, { subject: 'an', limit: 100 })).events, [], 'no prefix match');
  });

  it('time filters apply to each event, not to its row; export streams every event in order', async () => {
    const start = new Date(Date.now() - 60_000);
    await write(workload(start));
    const { events } = await queryAudit(db, {
      since: new Date(start.getTime() + 200),
      until: new Date(start.getTime() + 500),
      limit: 100,
    });
    assert.deepEqual(
      events.map((e) => e.data.jti),
      ['j2', 'j3', 'j4'],
    );
    const exported: AuditRecord[] = [];
    for await (const record of exportAudit(db, { type: 'token.issued' })) exported.push(record);
    assert.deepEqual(
      exported.map((e) => e.data.jti),
      ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'k0', 'k1', 'k2'],
    );
  });

  it('keeps NUL, lone surrogates and unserializable data as a row of its own would', async () => {
    const odd: AuditEvent[] = [
      { ...issued('a\u0000b', 'ann\uD800', 'j1'), data: { jti: 'x\u0000y' } },
      { ...issued('a', 'a', 'j2'), data: { big: 1n } },
      issued('a', 'a', 'j3'),
    ];
    const recorded = odd.map((event, i) => ({ event, at: new Date(Date.now() - 1000 + i) }));
    await write(recorded, true);
    const alone = (await queryAudit(db, { limit: 100 })).events;
    await emptyAuditTable(db.db);
    await write(recorded);
    assert.equal(await rowCount(), 1);
    const packed = (await queryAudit(db, { limit: 100 })).events;
    assert.deepEqual(packed.map(seen), alone.map(seen));
    assert.equal(packed[0]?.actor, 'a\uFFFDb');
    assert.match(String(packed[1]?.data.unserializable), /BigInt/);
    assert.equal((await verifyAuditChain(db, KEYS)).ok, true);
  });
});
