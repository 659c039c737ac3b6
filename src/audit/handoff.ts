import { callLine, eventLine, packable, type Recorded } from './decision-rows.ts';
import { type HandedEvent, packedEvent, packedEventLine } from './event-row.ts';
import type { AuditEvent, DecisionCall } from './types.ts';

/** Starts a call in a hand-off (any other event is one object). */
const CALL = 0;
/** A call's items after CALL: [at (ms), decisions, caller, subject, line]. */
const CALL_ITEMS = 5;
/** Starts an event of a packed type (event-row.ts). */
const EVENT = 1;
/** Its items after EVENT: HandedEvent. */
const EVENT_ITEMS = 7;

/**
 * Events on their way from the request thread to the writer thread (ThreadedAuditLog), in one
 * flat array that a single postMessage clones. Decisions, recorded at request rate, travel a
 * call at a time (AuditSink.recordDecisions) as CALL, the few fields the row's columns need and
 * the call's line of JSON (decision-rows.ts: callLine): a string clones as one copy, where the
 * call's fields cost the clone, and then the writer, a step each. The other events recorded at
 * request rate (event-row.ts: tokens issued and refused) travel the same way, as EVENT, the
 * columns and their line. Every other event travels as `{ event, at }`.
 */
export class Handoff {
  items: unknown[] = [];
  /** Events held (not items): a call counts its decisions. */
  count = 0;

  push(event: AuditEvent, at: number): void {
    this.count += 1;
    if (packable(event)) {
      this.items.push(CALL, at, 1, event.actor, event.subject, eventLine(event, at));
    } else if (packedEvent(event)) {
      const { type, actor, subject, clientId, ip } = event;
      this.items.push(EVENT, at, type, actor, subject, clientId, ip, packedEventLine(event, at));
    } else {
      this.items.push({ event, at: new Date(at) });
    }
  }

  pushCall(call: DecisionCall, at: number): void {
    const n = call.checks.length;
    this.count += n;
    this.items.push(CALL, at, n, call.caller, call.subject, callLine(call, at));
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

/** A call as the writer takes it: when, how many decisions, the row columns' caller and subject, its line. */
export type HandedCall = [
  at: number,
  n: number,
  caller: string | undefined,
  subject: string | undefined,
  line: string,
];

/** Where a hand-off is delivered (the writer's AuditLog). */
export interface HandoffTarget {
  record(event: AuditEvent, at: Date): void;
  /** A call of `n` decisions as its line (decision-rows.ts: callLine). */
  recordCall(...call: HandedCall): void;
  /** An event of a packed type as its line (event-row.ts). */
  recordEvent(...event: HandedEvent): void;
}

/** Delivers a hand-off's items to `target` in order (in the writer thread). */
export function deliverHandoff(items: readonly unknown[], target: HandoffTarget): void {
  for (let i = 0; i < items.length; ) {
    const item = items[i];
    if (item === CALL) {
      target.recordCall(
        items[i + 1] as number,
        items[i + 2] as number,
        items[i + 3] as string | undefined,
        items[i + 4] as string | undefined,
        items[i + 5] as string,
      );
      i += 1 + CALL_ITEMS;
    } else if (item === EVENT) {
      target.recordEvent(
        items[i + 1] as number,
        items[i + 2] as HandedEvent[1],
        items[i + 3] as string | undefined,
        items[i + 4] as string | undefined,
        items[i + 5] as string | undefined,
        items[i + 6] as string | undefined,
        items[i + 7] as string,
      );
      i += 1 + EVENT_ITEMS;
    } else {
      const { event, at } = item as Recorded;
      target.record(event, at);
      i += 1;
    }
  }
}
