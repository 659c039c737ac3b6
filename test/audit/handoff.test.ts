import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CallLine,
  decisionEvents,
  decisionRecord,
  lineDecisions,
  type Recorded,
} from '../../src/audit/decision-rows.ts';
import { EventRow, type HandedEvent } from '../../src/audit/event-row.ts';
import { deliverHandoff, Handoff } from '../../src/audit/handoff.ts';
import type { AuditEvent, DecisionCall } from '../../src/audit/index.ts';

/** What the writer makes of a call handed over: its decisions, each as the event it was. */
function callEvents(at: number, n: number, line: string): Recorded[] {
  const decisions = lineDecisions(JSON.parse(line) as CallLine);
  assert.equal(decisions.length, n, 'the count travels with the line');
  assert.ok(decisions.every((d) => Date.parse(d.at) === at));
  return decisions.map(decisionRecord);
}

/** What the writer makes of an event handed over as its line: the event, as its own row would hold it. */
function handedEvent(...event: HandedEvent): Recorded {
  const row = new EventRow(event[1], event[0]);
  row.add(...event);
  assert.ok(row.single);
  return row.single;
}

describe('the hand-off to the writer thread', () => {
  it('gives back every event in order, decisions and token events (as lines) and others (whole) alike', () => {
    const decision = (id: string | undefined, extra: Record<string, unknown> = {}): AuditEvent => ({
      type: 'decision',
      actor: 'gw',
      subject: id ? 'ann' : undefined,
      data: {
        action: 'read',
        resource: id === undefined ? { type: 'Invoice' } : { type: 'Invoice', id },
        allow: id !== undefined,
        reason: 'allowed',
        rule: id ? 'invoice-read' : null,
        version: 2,
        latency_us: 3.5,
        ...extra,
      },
    });
    const events: AuditEvent[] = [
      decision('a'),
      { type: 'login.failed', subject: 'eve', ip: '10.0.0.9', data: { reason: 'bad_password' } },
      decision(undefined),
      decision('b', { detail: 'dpop' }),
      // Not the decision log's shape: travels whole.
      { type: 'decision', data: { i: 1 } },
      {
        type: 'token.issued',
        actor: 'svc',
        subject: 'svc',
        clientId: 'svc',
        ip: '10.0.0.8',
        data: { grant_type: 'client_credentials', jti: 'j1', aud: 'https://api', scope: 'read', exp: 17 },
      },
      { type: 'token.refused', clientId: 'svc', data: { error: 'invalid_client' } },
      { type: 'token.issued' },
    ];
    const handoff = new Handoff();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (const [i, event] of events.entries()) handoff.push(event, t0 + i);
    handoff.unshift({ type: 'audit.dropped', data: { count: 3 } });
    assert.equal(handoff.count, 9);
    const { items, count } = handoff.take();
    assert.equal(count, 9);
    assert.equal(handoff.count, 0);
    assert.equal(items.filter((item) => typeof item === 'object').length, 3, 'three travel whole');
    const back: Recorded[] = [];
    deliverHandoff(structuredClone(items), {
      record: (event, at) => back.push({ event, at }),
      recordCall: (at, n, _caller, _subject, line) => back.push(...callEvents(at, n, line)),
      recordEvent: (...event) => back.push(handedEvent(...event)),
    });
    assert.equal(back[0]?.event.type, 'audit.dropped');
    // An event without data is stored with empty data, as in a row of its own.
    const stored = events.map((event) =>
      event.type === 'token.issued' && !event.data ? { ...event, data: {} } : event,
    );
    assert.deepEqual(
      back.slice(1).map(({ event, at }) => ({ event, at: at.getTime() })),
      stored.map((event, i) => ({ event, at: t0 + i })),
    );
  });

  it("gives back a call's decisions, each as the event it would have been alone", () => {
    const call: DecisionCall = {
      caller: 'gw',
      subject: 'ann',
      version: 7,
      checks: [
        { action: 'read', resource: { type: 'Invoice', id: 'a' } },
        { action: 'delete', resource: { type: 'Invoice' } },
        { action: 'read', resource: { type: 'Report', id: 'r' } },
      ],
      answers: [
        { allow: true, reason: 'allowed', rule: 'invoice-read' },
        { allow: false, reason: 'no_matching_rule', rule: null },
        { allow: false, reason: 'subject_token_invalid', rule: null, detail: 'expired' },
      ],
      latencies: [3.5, 1.2, 0],
    };
    const handoff = new Handoff();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    handoff.push({ type: 'login.failed', subject: 'eve' }, t0);
    handoff.pushCall(call, t0 + 5);
    handoff.pushCall({ ...call, caller: 'svc', subject: undefined }, t0 + 6);
    assert.equal(handoff.count, 7, 'a call counts its decisions');
    const { items } = handoff.take();
    const back: Recorded[] = [];
    deliverHandoff(structuredClone(items), {
      record: (event, at) => back.push({ event, at }),
      recordCall: (at, n, _caller, _subject, line) => back.push(...callEvents(at, n, line)),
      recordEvent: (...event) => back.push(handedEvent(...event)),
    });
    const alone = (c: DecisionCall, at: number) =>
      decisionEvents(c).map((event) => {
        const data = event.data as { resource: { type: string; id?: string } };
        // A missing id is no key at all once stored, as in a row of its own.
        if (data.resource.id === undefined) data.resource = { type: data.resource.type };
        return { event, at };
      });
    assert.deepEqual(
      back.map(({ event, at }) => ({ event, at: at.getTime() })),
      [
        { event: { type: 'login.failed', subject: 'eve' }, at: t0 },
        ...alone(call, t0 + 5),
        ...alone({ ...call, caller: 'svc', subject: undefined }, t0 + 6),
      ],
    );
  });
});
