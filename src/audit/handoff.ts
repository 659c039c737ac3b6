import { type DecisionData, packable, type Recorded } from './decision-rows.ts';
import type { AuditEvent } from './types.ts';

/** Starts a decision's fields in a hand-off (any other event is one object). */
const DECISION = 0;

/**
 * Events on their way from the request thread to the writer thread (ThreadedAuditLog), in one
 * flat array that a single postMessage clones. A decision, recorded at request rate, travels
 * as DECISION and its twelve fields rather than as a nest of objects: cloning primitives costs
 * the request thread about a third of what cloning the objects did. Every other event travels
 * as `{ event, at }`.
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
    const d = event.data as unknown as DecisionData;
    this.items.push(
      DECISION,
      at,
      event.actor,
      event.subject,
      d.action,
      d.resource.type,
      d.resource.id,
      d.allow,
      d.reason,
      d.rule,
      d.version,
      d.latency_us,
      d.detail,
    );
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

/** A hand-off's items back as events, in order (in the writer thread). */
export function unpackHandoff(items: unknown[]): Recorded[] {
  const out: Recorded[] = [];
  for (let i = 0; i < items.length; ) {
    const item = items[i];
    if (item !== DECISION) {
      out.push(item as Recorded);
      i += 1;
      continue;
    }
    const f = items.slice(i + 1, i + 13) as [
      number,
      string | undefined,
      string | undefined,
      string,
      string,
      string | undefined,
      boolean,
      string,
      string | null,
      number,
      number,
      string | undefined,
    ];
    const [at, actor, subject, action, type, id, allow, reason, rule, version, latency_us, detail] = f;
    const data: DecisionData = {
      action,
      resource: id === undefined ? { type } : { type, id },
      allow,
      reason,
      ...(detail === undefined ? {} : { detail }),
      rule,
      version,
      latency_us,
    };
    out.push({
      event: { type: 'decision', actor, subject, data: data as unknown as Record<string, unknown> },
      at: new Date(at),
    });
    i += 13;
  }
  return out;
}
