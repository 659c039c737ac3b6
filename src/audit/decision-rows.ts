import { storable } from './stored-text.ts';
import type { AuditEvent, AuditSink, DecisionCall } from './types.ts';

/**
 * Decisions are the one event recorded at request rate: thousands a second behind a busy
 * gateway, where every other kind comes at human rate. One row per decision made the database
 * insert (about 20 µs a row on the embedded engine, index entries and all) the largest cost of a
 * logged /decide answer, and the database's cost per row grows with its bytes. So the writer
 * packs the decisions it writes together into one `decision` row, like Cerbos's decision log
 * keeps one entry per call, in a compact form: each call (one /decide request, one
 * forward-auth check) a tuple holding what its decisions share (time, caller, subject, policy
 * version) once, each decision a short tuple inside it, each repeated string (caller, subject,
 * action, type, reason, rule) once in a table. The row is MAC'd and chained like any other; the
 * readers (query, export) expand it back into one event per decision with exactly the data it
 * was recorded with (docs/architecture.md 3.6).
 */

/** The most decisions one row holds (whole calls: a call of more starts a row of its own). */
export const DECISIONS_PER_ROW = 256;
/**
 * The longest time one row spans, first call to last: time filters select rows by their newest
 * decision (`occurred_at`) and widen `until` by this much (see reader.ts).
 */
export const DECISION_ROW_SPAN_MS = 1000;
/** Marks a packed row's data; a later layout gets another name, and readers keep the older ones. */
export const FORMAT = 'decisions/2';
/** Decisions one to a tuple, each with its own time, caller and subject (written until 2026-11). */
export const FORMAT_1 = 'decisions/1';

/** What the decision log records for one decision (decide/decision-log.ts). */
export interface DecisionData {
  action: string;
  resource: { type: string; id?: string };
  allow: boolean;
  reason: string;
  detail?: string;
  rule: string | null;
  version: number;
  latency_us: number;
}

export interface Recorded {
  event: AuditEvent;
  at: Date;
}

/**
 * A call, flat: CALL_HEAD fields [at (ms), caller, subject, version, n], then n decisions of
 * DECISION_FIELDS each [action, type, id, allow, reason, rule, latency_us, detail]. The hand-off
 * to the writer thread carries calls so (handoff.ts): primitives in one array clone for a third
 * of what a nest of objects costs, and packed rows are built from them without an object per
 * decision.
 */
export const CALL_HEAD = 5;
export const DECISION_FIELDS = 8;

/** How many items the call starting at `items[offset]` takes. */
export const callItems = (items: readonly unknown[], offset: number): number =>
  CALL_HEAD + DECISION_FIELDS * (items[offset + 4] as number);

/** Appends a call's fields to `out`. */
export function pushCall(out: unknown[], call: DecisionCall, at: number): void {
  const { checks, answers, latencies } = call;
  out.push(at, call.caller, call.subject, call.version, checks.length);
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i] as DecisionCall['checks'][number];
    const answer = answers[i] as DecisionCall['answers'][number];
    out.push(
      check.action,
      check.resource.type,
      check.resource.id,
      answer.allow,
      answer.reason,
      answer.rule,
      latencies[i],
      // An empty detail is none, as decisionEvents has it.
      answer.detail || undefined,
    );
  }
}

/** Appends a packable event (see packable) as a call of one decision. */
export function pushDecisionEvent(out: unknown[], event: AuditEvent, at: number): void {
  const d = event.data as unknown as DecisionData;
  out.push(at, event.actor, event.subject, d.version, 1);
  out.push(d.action, d.resource.type, d.resource.id, d.allow, d.reason, d.rule, d.latency_us, d.detail);
}

/** Rounds seconds to the tenth of a microsecond the log keeps. */
export const latencyMicros = (seconds: number): number => Math.round(seconds * 1e7) / 10;

/** A call's decisions as events of their own (a sink without recordDecisions takes them so). */
export function decisionEvents(call: DecisionCall): AuditEvent[] {
  return call.checks.map((check, i) => {
    const answer = call.answers[i] as DecisionCall['answers'][number];
    return {
      type: 'decision',
      actor: call.caller,
      subject: call.subject,
      data: {
        action: check.action,
        resource: { type: check.resource.type, id: check.resource.id },
        allow: answer.allow,
        reason: answer.reason,
        ...(answer.detail ? { detail: answer.detail } : {}),
        rule: answer.rule,
        version: call.version,
        latency_us: call.latencies[i] as number,
      },
    };
  });
}

/** The events of the flat call at `items[offset]`, exactly as recorded one by one. */
export function callEvents(items: readonly unknown[], offset: number): Recorded[] {
  const at = new Date(items[offset] as number);
  const actor = items[offset + 1] as string | undefined;
  const subject = items[offset + 2] as string | undefined;
  const version = items[offset + 3] as number;
  const out: Recorded[] = [];
  const n = items[offset + 4] as number;
  for (let i = 0, o = offset + CALL_HEAD; i < n; i++, o += DECISION_FIELDS) {
    const id = items[o + 2] as string | undefined;
    const detail = items[o + 7] as string | undefined;
    const type = items[o + 1] as string;
    const data: DecisionData = {
      action: items[o] as string,
      resource: id === undefined ? { type } : { type, id },
      allow: items[o + 3] as boolean,
      reason: items[o + 4] as string,
      ...(detail === undefined ? {} : { detail }),
      rule: items[o + 5] as string | null,
      version,
      latency_us: items[o + 6] as number,
    };
    out.push({
      event: { type: 'decision', actor, subject, data: data as unknown as Record<string, unknown> },
      at,
    });
  }
  return out;
}

const DATA_KEYS = new Set([
  'action',
  'resource',
  'allow',
  'reason',
  'detail',
  'rule',
  'version',
  'latency_us',
]);

/**
 * A decision as the decision log records it, and nothing else: anything with another shape
 * (or a client id or address) keeps a row of its own, so expanding gives back exactly what was
 * recorded.
 */
export function packable(event: AuditEvent): boolean {
  if (event.type !== 'decision' || event.clientId !== undefined || event.ip !== undefined) return false;
  const d = event.data as Partial<DecisionData> | undefined;
  if (!d || typeof d.action !== 'string' || typeof d.allow !== 'boolean' || typeof d.reason !== 'string')
    return false;
  if (typeof d.version !== 'number' || typeof d.latency_us !== 'number') return false;
  if (d.rule !== null && typeof d.rule !== 'string') return false;
  if (d.detail !== undefined && typeof d.detail !== 'string') return false;
  const r = d.resource;
  if (!r || typeof r.type !== 'string' || (r.id !== undefined && typeof r.id !== 'string')) return false;
  for (const key in r) if (key !== 'type' && key !== 'id') return false;
  for (const key in d) if (!DATA_KEYS.has(key)) return false;
  return true;
}

/** JSON's text for a number (null for NaN and the infinities). */
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

/** String-table slots, one per kind of string a call holds. */
const ACTOR = 0;
const SUBJECT = 1;
const ACTION = 2;
const TYPE = 3;
const REASON = 4;
const RULE = 5;
const DETAIL = 6;

/**
 * One packed row in the making: calls are added as flat fields and go straight into the row's
 * JSON text, each repeated string once in the string table. The text is exactly what
 * JSON.stringify would make of the row's data, built without an object or array per decision:
 * that, not the database, was most of the writer's cost per decision (docs/architecture.md 3.6).
 */
export class DecisionRow {
  /** The first call's time (ms); calls hold their time after it. */
  readonly first: number;
  /** The newest call's time (ms): the row's occurred_at. */
  last: number;
  /** Decisions held. */
  count = 0;
  readonly #strings: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #calls: string[] = [];
  /** The first call's fields: a row of one decision is written as that decision's own row. */
  #firstCall: unknown[] = [];
  #actor: string | undefined;
  #subject: string | undefined;
  #mixedActor = false;
  #mixedSubject = false;
  // One per slot, remembering its last string: neighbouring decisions mostly repeat it, and
  // comparing is cheaper than hashing a string that arrived from another thread.
  readonly #last: (string | null | undefined)[] = [null, null, null, null, null, null, null];
  readonly #lastIndex: number[] = [-1, -1, -1, -1, -1, -1, -1];

  constructor(first: number) {
    this.first = first;
    this.last = first;
  }

  /**
   * Whether a call of `n` decisions made at `at` may join: DECISIONS_PER_ROW at most,
   * DECISION_ROW_SPAN_MS wide. An empty row takes any call.
   */
  fits(at: number, n: number): boolean {
    return (
      this.count === 0 || (this.count + n <= DECISIONS_PER_ROW && at - this.first <= DECISION_ROW_SPAN_MS)
    );
  }

  /** Adds the flat call at `items[offset]` (CALL_HEAD, then its decisions). */
  addCall(items: readonly unknown[], offset: number): void {
    const at = items[offset] as number;
    const actor = items[offset + 1] as string | undefined;
    const subject = items[offset + 2] as string | undefined;
    const n = items[offset + 4] as number;
    if (this.count === 0) {
      this.#firstCall = items.slice(offset, offset + callItems(items, offset));
      this.#actor = actor;
      this.#subject = subject;
    } else {
      if (actor !== this.#actor) this.#mixedActor = true;
      if (subject !== this.#subject) this.#mixedSubject = true;
    }
    this.count += n;
    if (at > this.last) this.last = at;
    let text =
      `[${at - this.first},${this.#ref(ACTOR, actor)},${this.#ref(SUBJECT, subject)},` +
      `${num(items[offset + 3] as number)},[`;
    for (let i = 0, o = offset + CALL_HEAD; i < n; i++, o += DECISION_FIELDS) {
      const id = items[o + 2] as string | undefined;
      const detail = items[o + 7] as string | undefined;
      text +=
        `${i === 0 ? '' : ','}[${this.#ref(ACTION, items[o] as string)},${this.#ref(TYPE, items[o + 1] as string)},` +
        `${id === undefined ? 'null' : JSON.stringify(storable(id))},${items[o + 3] ? 1 : 0},` +
        `${this.#ref(REASON, items[o + 4] as string)},${this.#ref(RULE, items[o + 5] as string | null)},` +
        `${num(items[o + 6] as number)}${detail === undefined ? '' : `,${this.#ref(DETAIL, detail)}`}]`;
    }
    this.#calls.push(`${text}]]`);
  }

  /** The caller (and the subject) every decision shares, else undefined. */
  get actor(): string | undefined {
    return this.#mixedActor ? undefined : this.#actor;
  }

  get subject(): string | undefined {
    return this.#mixedSubject ? undefined : this.#subject;
  }

  /** A row of one decision: that decision, to be written as an ordinary row. */
  get single(): Recorded | undefined {
    return this.count === 1 ? callEvents(this.#firstCall, 0)[0] : undefined;
  }

  /** The row's data as JSON text (FORMAT), strings made storable (see storable). */
  text(): string {
    return (
      `{"format":"${FORMAT}","at":"${new Date(this.first).toISOString()}",` +
      `"strings":${JSON.stringify(this.#strings)},"calls":[${this.#calls.join(',')}]}`
    );
  }

  #ref(slot: number, value: string | null | undefined): number {
    if (value === this.#last[slot]) return this.#lastIndex[slot] as number;
    this.#last[slot] = value;
    let i = -1;
    if (value !== null && value !== undefined) {
      const text = storable(value);
      i = this.#index.get(text) ?? -1;
      if (i === -1) {
        i = this.#strings.push(text) - 1;
        this.#index.set(text, i);
      }
    }
    this.#lastIndex[slot] = i;
    return i;
  }
}

/** Gives a call's decisions to `sink`: at once where it takes calls, else event by event. */
export function recordDecisionCall(sink: AuditSink, call: DecisionCall): void {
  if (sink.recordDecisions) sink.recordDecisions(call);
  else for (const event of decisionEvents(call)) sink.record(event);
}
