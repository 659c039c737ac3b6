import { callItems, packable, pushCall, pushDecisionEvent, type Recorded } from './decision-rows.ts';
import type { AuditEvent, DecisionCall } from './types.ts';

/** Starts a call's fields in a hand-off (any other event is one object). */
const CALL = 0;

/**
 * Events on their way from the request thread to the writer thread (ThreadedAuditLog), in one
 * flat array that a single postMessage clones. Decisions, recorded at request rate, travel a
 * call at a time as CALL and the call's fields (decision-rows.ts: CALL_HEAD, DECISION_FIELDS)
 * rather than as a nest of objects: cloning primitives costs the request thread about a third
 * of what cloning the objects did, what a call's decisions share travels once, and the writer
 * packs them into rows as they are. Every other event travels as `{ event, at }`.
 */
export class Handoff {
  items: unknown[] = [];
  /** Events held (not items): a call counts its decisions. */
  count = 0;

  push(event: AuditEvent, at: number): void {
    this.count += 1;
    if (!packable(event)) {
      this.items.push({ event, at: new Date(at) });
      return;
    }
    this.items.push(CALL);
    pushDecisionEvent(this.items, event, at);
  }

  pushCall(call: DecisionCall, at: number): void {
    this.count += call.checks.length;
    this.items.push(CALL);
    pushCall(this.items, call, at);
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
  /** The flat call at `items[offset]`. */
  recordCall(items: readonly unknown[], offset: number): void;
}

/** Delivers a hand-off's items to `target` in order (in the writer thread). */
export function deliverHandoff(items: readonly unknown[], target: HandoffTarget): void {
  for (let i = 0; i < items.length; ) {
    const item = items[i];
    if (item === CALL) {
      target.recordCall(items, i + 1);
      i += 1 + callItems(items, i + 1);
    } else {
      const { event, at } = item as Recorded;
      target.record(event, at);
      i += 1;
    }
  }
}
