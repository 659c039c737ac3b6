import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionEvent, type Recorded } from '../../src/audit/decision-rows.ts';
import { deliverHandoff, Handoff } from '../../src/audit/handoff.ts';
import type { AuditEvent } from '../../src/audit/index.ts';

describe('the hand-off to the writer thread', () => {
  it('gives back every event in order, decisions (flat) and others (whole) alike', () => {
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
    ];
    const handoff = new Handoff();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (const [i, event] of events.entries()) handoff.push(event, t0 + i);
    handoff.unshift({ type: 'audit.dropped', data: { count: 3 } });
    assert.equal(handoff.count, 6);
    const { items, count } = handoff.take();
    assert.equal(count, 6);
    assert.equal(handoff.count, 0);
    const back: Recorded[] = [];
    deliverHandoff(structuredClone(items), {
      record: (event, at) => back.push({ event, at }),
      recordDecision: (fields, offset) => back.push(decisionEvent(fields, offset)),
    });
    assert.equal(back[0]?.event.type, 'audit.dropped');
    assert.deepEqual(
      back.slice(1).map(({ event, at }) => ({ event, at: at.getTime() })),
      events.map((event, i) => ({ event, at: t0 + i })),
    );
  });
});
