import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { DECISION_ROW_SPAN_MS, DECISIONS_PER_ROW, DecisionRow } from '../../src/audit/decision-row.ts';
import { callLine, type DecisionData, decisionEvents, type Recorded } from '../../src/audit/decision-rows.ts';
import { AuditLog, auditKeys, exportAudit, queryAudit, verifyAuditChain } from '../../src/audit/index.ts';
import { unpackDecisions } from '../../src/audit/packed-rows.ts';
import { type BufferedRow, RowBuffer } from '../../src/audit/row-buffer.ts';
import type { DatabaseHandle } from '../../src/db/index.ts';
import { emptyAuditTable } from '../helpers/audit-rows.ts';
import { ENGINE, suiteDatabase } from '../helpers/database.ts';
import { decisionCall } from '../helpers/decision-calls.ts';

const KEYS = auditKeys({ configured: undefined, previous: [], keyEncryptionKey: randomBytes(32) });
const OPTIONS = { capacity: 10_000, batchSize: 1000, flushMs: 60_000, key: KEYS.current };
const onError = (error: unknown) => {
  throw error;
};

function data(id: string | undefined, extra: Partial<DecisionData> = {}): DecisionData {
  return {
    action: 'read',
    resource: id === undefined ? { type: 'Invoice' } : { type: 'Invoice', id },
    allow: true,
    reason: 'allowed',
    rule: 'invoice-read',
    version: 3,
    latency_us: 4.2,
    ...extra,
  };
}

function decision(subject: string | undefined, id: string, at: Date, actor = 'gw'): Recorded {
  return { event: { type: 'decision', actor, subject, data: { ...data(id) } }, at };
}

/** Events through the writer's buffer, and the rows (at most `maxRows`) one transaction takes. */
function packDecisions(recorded: Recorded[], maxRows = Number.POSITIVE_INFINITY) {
  const buffer = new RowBuffer();
  for (const r of recorded) buffer.add(r);
  const { rows, events } = buffer.peek(maxRows);
  return { rows, consumed: events };
}

const sizes = ({ rows }: { rows: BufferedRow[] }) =>
  rows.map((r) => (r instanceof DecisionRow ? r.count : 1));

/** A call of ten checks, as the decision engine makes one. */
const tenChecks = decisionCall('ann', 10);

/** A packed row's data as stored (its text, parsed). */
const stored = (row: BufferedRow | undefined) => {
  assert.ok(row instanceof DecisionRow && row.count > 1, 'a packed row');
  return JSON.parse(row.text()) as Record<string, unknown>;
};

describe('packing decisions into rows', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const at = (ms: number) => new Date(t0.getTime() + ms);

  it('packs consecutive decisions, keeping order around other events', () => {
    const login: Recorded = { event: { type: 'login.failed', subject: 'eve' }, at: at(2) };
    const { rows: out, consumed } = packDecisions([
      decision('ann', 'a', at(0)),
      decision('bob', 'b', at(1)),
      login,
      decision('ann', 'c', at(3)),
    ]);
    assert.deepEqual(sizes({ rows: out }), [2, 1, 1]);
    assert.equal(consumed, 4);
    const [first, second, third] = out;
    assert.ok(first instanceof DecisionRow);
    assert.equal(first.actor, 'gw', "the shared caller is the row's");
    assert.equal(first.subject, undefined, 'subjects differ: the row has none');
    assert.equal(first.last, at(1).getTime(), 'a row is dated by its newest decision');
    assert.equal(second, login);
    assert.ok(third instanceof DecisionRow);
    assert.deepEqual(third.single, decision('ann', 'c', at(3)), 'a lone decision stays an ordinary row');
  });

  it('gives back exactly what was recorded, each decision with its own time, caller and subject', () => {
    const recorded: Recorded[] = [
      { event: { type: 'decision', actor: 'gw', subject: 'ann', data: { ...data('a') } }, at: at(0) },
      {
        event: {
          type: 'decision',
          actor: 'svc',
          data: { ...data(undefined, { allow: false, reason: 'no_matching_rule', rule: null }) },
        },
        at: at(7),
      },
      {
        event: {
          type: 'decision',
          actor: 'gw',
          subject: 'bob "the builder"',
          data: { ...data('x', { allow: false, reason: 'locked', detail: 'dpop', version: 9 }) },
        },
        at: at(12),
      },
    ];
    const [row] = packDecisions(recorded).rows;
    assert.ok(row instanceof DecisionRow);
    const text = row.text();
    assert.equal(JSON.stringify(JSON.parse(text)), text, 'the text is what JSON.stringify makes of it');
    assert.deepEqual(
      unpackDecisions('decision', stored(row)),
      recorded.map(({ event, at: when }) => ({
        at: when.toISOString(),
        actor: event.actor ?? null,
        subject: event.subject ?? null,
        data: event.data,
      })),
    );
    assert.equal(unpackDecisions('login.failed', stored(row)), undefined, 'only decision rows');
    assert.equal(unpackDecisions('decision', { ...data('a') }), undefined, 'an unpacked decision row');
  });

  it('makes NUL and lone surrogates storable in packed rows, as in rows of their own', () => {
    const odd = (i: number) => ({
      event: {
        type: 'decision' as const,
        actor: 'gw\u0000',
        subject: `ann\ud800${i}`,
        data: { ...data(`inv\u0000${i}`, { action: 'read\udfff', detail: '\u0000' }) },
      },
      at: at(i),
    });
    const [row] = packDecisions([odd(0), odd(1)]).rows;
    assert.ok(row instanceof DecisionRow);
    assert.doesNotMatch(row.text(), /\\u(0000|d[89a-f])/i, 'nothing PostgreSQL or the chain would refuse');
    const back = unpackDecisions('decision', stored(row));
    assert.deepEqual(
      back?.map((d: { subject: string | null; data: DecisionData }) => [
        d.subject,
        d.data.resource.id,
        d.data.action,
        d.data.detail,
      ]),
      [0, 1].map((i) => [`ann\ufffd${i}`, `inv\ufffd${i}`, 'read\ufffd', '\ufffd']),
    );
  });

  it(`holds at most ${DECISIONS_PER_ROW} decisions and ${DECISION_ROW_SPAN_MS} ms in one row`, () => {
    const many = Array.from({ length: DECISIONS_PER_ROW + 2 }, (_, i) => decision('ann', `${i}`, at(0)));
    assert.deepEqual(sizes(packDecisions(many)), [DECISIONS_PER_ROW, 2]);
    const spread = [
      decision('ann', 'a', at(0)),
      decision('ann', 'b', at(DECISION_ROW_SPAN_MS)),
      decision('ann', 'c', at(DECISION_ROW_SPAN_MS + 1)),
      decision('ann', 'd', at(DECISION_ROW_SPAN_MS + 2)),
    ];
    assert.deepEqual(sizes(packDecisions(spread)), [2, 2]);
  });

  it('stops at the most rows one transaction takes, saying how many events they hold', () => {
    const login: Recorded = { event: { type: 'login.failed', subject: 'eve' }, at: at(2) };
    const buffer = [
      decision('ann', 'a', at(0)),
      decision('bob', 'b', at(1)),
      login,
      decision('ann', 'c', at(3)),
    ];
    assert.deepEqual(
      [1, 2, 3, 4].map((maxRows) => {
        const { rows, consumed } = packDecisions(buffer, maxRows);
        return [sizes({ rows }), consumed];
      }),
      [
        [[2], 2],
        [[2, 1], 3],
        [[2, 1, 1], 4],
        [[2, 1, 1], 4],
      ],
    );
  });

  it('packs a call whole: its decisions share one row, whatever room the open row has left', () => {
    const buffer = new RowBuffer();
    for (let i = 0; i < DECISIONS_PER_ROW - 5; i++) buffer.add(decision('ann', `${i}`, at(0)));
    for (const when of [at(1), at(2)].map((d) => d.getTime()))
      buffer.addCall(when, 10, 'gw', 'ann', callLine(tenChecks, when));
    const { rows, events } = buffer.peek(10);
    assert.deepEqual(sizes({ rows }), [DECISIONS_PER_ROW - 5, 20]);
    assert.equal(events, DECISIONS_PER_ROW + 15);
  });

  it('reads rows written in the earlier layout (decisions/1), decision by decision', () => {
    const old = {
      format: 'decisions/1',
      at: '2026-01-01T00:00:00.000Z',
      strings: ['gw', 'ann', 'read', 'Invoice', 'allowed', 'invoice-read', 'denied', 'dpop'],
      decisions: [
        [0, 0, 1, 2, 3, 'a', 1, 4, 5, 3, 4.2],
        [7, 0, -1, 2, 3, null, 0, 6, -1, 4, 1.5, 7],
      ],
    };
    assert.deepEqual(unpackDecisions('decision', old), [
      { at: '2026-01-01T00:00:00.000Z', actor: 'gw', subject: 'ann', data: data('a') },
      {
        at: '2026-01-01T00:00:00.007Z',
        actor: 'gw',
        subject: null,
        data: {
          ...data(undefined, { allow: false, reason: 'denied', rule: null, version: 4, latency_us: 1.5 }),
          detail: 'dpop',
        },
      },
    ]);
  });

  it('packs recorded inputs and gives each decision its own back exactly', () => {
    const full = {
      mode: 'full',
      roles: ['accountant'],
      subject_attrs: { tenant: 'acme', level: 3, tags: ['a', null] },
      resource_attrs: { tenant: 'acme', amount: 12.5 },
      field: 'amount',
      context: { ip: '10.0.0.1', nested: { on: true } },
    };
    const hashed = { mode: 'hashed', key: 'k1', roles: [], subject_attrs: {} };
    const recorded: Recorded[] = [full, hashed, undefined].map((input, i) => ({
      event: {
        type: 'decision',
        actor: 'gw',
        subject: 'ann',
        data: { ...data(`i${i}`), ...(input ? { input } : {}) },
      },
      at: at(i),
    }));
    const [row, ...rest] = packDecisions(recorded).rows;
    assert.ok(row instanceof DecisionRow);
    assert.equal(rest.length, 0, 'one row');
    assert.deepEqual(
      unpackDecisions('decision', stored(row))?.map((d) => d.data),
      recorded.map(({ event }) => event.data),
    );
  });

  it("records a call's inputs once, and each decision reads its own resource and field", () => {
    const call = {
      ...decisionCall('ann', 3),
      inputs: { mode: 'full' as const, roles: ['r'], attrs: { tenant: 'acme' }, context: undefined },
    };
    const checks = call.checks.map((check, i) => ({
      ...check,
      resource: { ...check.resource, attrs: { n: i } },
      ...(i === 1 ? { field: 'amount' } : {}),
    }));
    const line = callLine({ ...call, checks }, at(0).getTime());
    assert.equal(line.split('"tenant"').length, 2, 'the shared inputs are written once');
    const buffer = new RowBuffer();
    buffer.addCall(at(0).getTime(), 3, 'gw', 'ann', line);
    const [row] = buffer.peek(1).rows;
    const inputs = unpackDecisions('decision', stored(row))?.map((d) => d.data.input);
    assert.deepEqual(inputs, [
      { mode: 'full', roles: ['r'], subject_attrs: { tenant: 'acme' }, resource_attrs: { n: 0 } },
      {
        mode: 'full',
        roles: ['r'],
        subject_attrs: { tenant: 'acme' },
        resource_attrs: { n: 1 },
        field: 'amount',
      },
      { mode: 'full', roles: ['r'], subject_attrs: { tenant: 'acme' }, resource_attrs: { n: 2 } },
    ]);
    assert.deepEqual(
      decisionEvents({ ...call, checks }).map((event) => event.data?.input),
      inputs,
      'a sink taking events one by one records the same',
    );
    assert.ok(
      !callLine({ ...call, checks, inputs: undefined }, 0).includes('"n"'),
      'no inputs: no attributes',
    );
  });

  it('never packs what it could not give back exactly', () => {
    const odd: Recorded[] = [
      { event: { type: 'decision', subject: 'ann', ip: '10.0.0.1', data: { ...data('a') } }, at: at(1) },
      { event: { type: 'decision', subject: 'ann', clientId: 'c', data: { ...data('a') } }, at: at(1) },
      { event: { type: 'decision', subject: 'ann', data: { ...data('a'), extra: 1 } }, at: at(1) },
      { event: { type: 'decision', subject: 'ann', data: { ...data('a'), detail: '' } }, at: at(1) },
      { event: { type: 'decision', subject: 'ann', data: { i: 1 } }, at: at(1) },
      {
        event: {
          type: 'decision',
          subject: 'ann',
          data: { ...data('a'), resource: { type: 'I', attrs: {} } },
        },
        at: at(1),
      },
      ...[
        { mode: 'hashed', roles: [], subject_attrs: {} },
        { mode: 'full', key: 'k', roles: [], subject_attrs: {} },
        { mode: 'raw', roles: [], subject_attrs: {} },
        { mode: 'full', roles: 'admin', subject_attrs: {} },
        { mode: 'full', roles: [1], subject_attrs: {} },
        { mode: 'full', roles: [], subject_attrs: null },
        { mode: 'full', roles: [], subject_attrs: {}, resource_attrs: null },
        { mode: 'full', roles: [], subject_attrs: {}, context: [] },
        { mode: 'full', roles: [], subject_attrs: {}, field: 3 },
        { mode: 'full', roles: [], subject_attrs: {}, extra: 1 },
        'full',
      ].map(
        (input): Recorded => ({
          event: { type: 'decision', subject: 'ann', data: { ...data('a'), input } },
          at: at(1),
        }),
      ),
    ];
    for (const event of odd)
      assert.deepEqual(
        sizes(packDecisions([decision('ann', 'a', at(0)), event, decision('ann', 'b', at(2))])),
        [1, 1, 1],
      );
  });
});

describe(`packed decision rows on ${ENGINE}: query, export and verify read them as events`, () => {
  let db: DatabaseHandle;
  suiteDatabase((opened) => {
    db = opened.handle;
  });
  beforeEach(() => emptyAuditTable(db.db));

  /** 10 decisions (ann, bob alternating), a failed login, 5 more for ann; one second apart. */
  async function workload(): Promise<Date> {
    const log = new AuditLog(db, OPTIONS, { onError });
    const start = new Date(Date.now() - 60_000);
    const at = (i: number) => new Date(start.getTime() + i * 100);
    for (let i = 0; i < 10; i++) {
      const { event, at: when } = decision(i % 2 ? 'bob' : 'ann', `inv-${i}`, at(i));
      log.record(event, when);
    }
    log.record({ type: 'login.failed', subject: 'ann', data: { reason: 'bad_password' } }, at(10));
    for (let i = 11; i < 16; i++) log.record(decision('ann', `inv-${i}`, at(i)).event, at(i));
    await log.flush();
    return start;
  }

  it('writes three rows for sixteen events, and the chain verifies', async () => {
    await workload();
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_events`.execute(db.db);
    assert.deepEqual(rows, [{ n: 3 }]);
    const verdict = await verifyAuditChain(db, KEYS);
    assert.equal(verdict.ok, true);
    assert.equal(verdict.rows, 3);
  });

  it("a call's decisions come back as the events they would have been alone, sharing its time", async () => {
    const log = new AuditLog(db, OPTIONS, { onError });
    log.recordDecisions(tenChecks);
    log.recordDecisions({ ...tenChecks, caller: 'svc', subject: undefined, version: 6 });
    await log.flush();
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_events`.execute(db.db);
    assert.deepEqual(rows, [{ n: 1 }], 'both calls in one row');
    const { events } = await queryAudit(db, { limit: 100 });
    const expected = [tenChecks, { ...tenChecks, caller: 'svc', subject: undefined, version: 6 }].flatMap(
      (call) =>
        decisionEvents(call).map((event) => ({
          actor: event.actor ?? null,
          subject: event.subject ?? null,
          data: JSON.parse(JSON.stringify(event.data)),
        })),
    );
    assert.deepEqual(
      events.map((e) => ({ actor: e.actor, subject: e.subject, data: e.data })),
      expected,
    );
    assert.equal(new Set(events.slice(0, 10).map((e) => e.occurred_at)).size, 1, 'one time per call');
    assert.equal((await verifyAuditChain(db, KEYS)).ok, true);
  });

  it('query expands each decision with its own subject, time, data and index', async () => {
    const start = await workload();
    const { events, nextAfter } = await queryAudit(db, { limit: 100 });
    assert.equal(nextAfter, null);
    assert.equal(events.length, 16);
    const [first] = events;
    assert.deepEqual(
      { ...first, hash: undefined, key_id: undefined },
      {
        seq: 1,
        index: 0,
        occurred_at: start.toISOString(),
        type: 'decision',
        actor: 'gw',
        subject: 'ann',
        client_id: null,
        ip: null,
        data: data('inv-0'),
        hash: undefined,
        key_id: undefined,
      },
    );
    assert.deepEqual(
      events.map((e) => [e.seq, e.index]),
      [
        ...Array.from({ length: 10 }, (_, i) => [1, i]),
        [2, undefined],
        ...Array.from({ length: 5 }, (_, i) => [3, i]),
      ],
    );
  });

  it('a subject filter finds that subject’s decisions inside rows shared with others, and only those', async () => {
    await workload();
    const { events } = await queryAudit(db, { subject: 'bob', limit: 100 });
    assert.deepEqual(
      events.map((e) => e.data.resource),
      [1, 3, 5, 7, 9].map((i) => ({ type: 'Invoice', id: `inv-${i}` })),
    );
    const ann = await queryAudit(db, { subject: 'ann', type: 'decision', limit: 100 });
    assert.equal(ann.events.length, 10);
    assert.ok(ann.events.every((e) => e.subject === 'ann' && e.type === 'decision'));
    assert.deepEqual((await queryAudit(db, { subject: 'b', limit: 100 })).events, [], 'no prefix match');
  });

  it('time filters apply to each decision, not to its row', async () => {
    const start = await workload();
    const at = (i: number) => new Date(start.getTime() + i * 100);
    const { events } = await queryAudit(db, { since: at(3), until: at(6), limit: 100 });
    assert.deepEqual(
      events.map((e) => e.data.resource),
      [3, 4, 5].map((i) => ({ type: 'Invoice', id: `inv-${i}` })),
    );
  });

  it('pages hold whole rows within the limit; a first row larger than the limit comes whole', async () => {
    await workload();
    const first = await queryAudit(db, { limit: 4 });
    assert.equal(first.events.length, 10, 'the first row alone');
    assert.equal(first.nextAfter, 1);
    const second = await queryAudit(db, { limit: 4, after: 1 });
    assert.deepEqual(
      second.events.map((e) => e.seq),
      [2],
      'the next row (5 decisions) would not fit beside it',
    );
    assert.equal(second.nextAfter, 2);
    const third = await queryAudit(db, { limit: 10, after: 2 });
    assert.equal(third.events.length, 5);
    assert.equal(third.nextAfter, null);
  });

  it('export streams every decision in order', async () => {
    await workload();
    const records = [];
    for await (const record of exportAudit(db, { subject: 'ann' })) records.push(record);
    assert.equal(records.length, 11, '10 decisions and the failed login');
    assert.deepEqual(
      records.map((r) => r.type),
      [...Array(5).fill('decision'), 'login.failed', ...Array(5).fill('decision')],
    );
  });
});
