import { DECISION_FIELDS, packable, pushDecisionFields, type Recorded } from './decision-rows.ts';
import type { AuditEvent } from './types.ts';

/** Starts a decision's fields in a hand-off (any other event is one object). */
const DECISION = 0;

/**
 * Events on their way from the request thread to the writer thread (ThreadedAuditLog), in one
 * flat array that a single postMessage clones. A decision, recorded at request rate, travels
 * as DECISION and its fields (decision-rows.ts: DECISION_FIELDS) rather than as a nest of
 * objects: cloning primitives costs the request thread about a third of what cloning the
 * objects did, and the writer packs them into rows as they are. Every other event travels as
 * `{ event, at }`.
 */
export class Handoff {
  items: unknown[] = [];
  /** Events held (not items). */
  count = 0;

  push(event: AuditEvent, at: number): void {
    this.count += 1;
    if (!packable(event)) {
      this.items.push({ event, at: new Date(at) });
      return;
    }
    this.items.push(DECISION);
    pushDecisionFields(this.items, event, at);
  }

  /** An event ahead of everything held (the note that events were lost). */
  unshift(event: AuditEvent): void {
    this.count += 1;
    this.items.unshift({ event, at: new Date() });
  }

  /** Everything held, leaving this empty. */
  take(): { items: unknown[]; count: number } {
    const taken = { items: this.items, count: this.count };
    this.items = [];
    this.count = 0;
    return taken;
  }
}

/** Where a hand-off is delivered (the writer's AuditLog). */
export interface HandoffTarget {
  record(event: AuditEvent, at: Date): void;
  recordDecision(fields: readonly unknown[], offset: number): void;
}

/** Delivers a hand-off's items to `target` in order (in the writer thread). */
export function deliverHandoff(items: readonly unknown[], target: HandoffTarget): void {
  for (let i = 0; i < items.length; ) {
    const item = items[i];
    if (item === DECISION) {
      target.recordDecision(items, i + 1);
      i += 1 + DECISION_FIELDS;
    } else {
      const { event, at } = item as Recorded;
      target.record(event, at);
      i += 1;
    }
  }
}
