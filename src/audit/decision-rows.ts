import { storable } from './stored-text.ts';
import type { AuditEvent } from './types.ts';

/**
 * Decisions are the one event recorded at request rate: thousands a second behind a busy
 * gateway, where every other kind comes at human rate. One row per decision made the database
 * insert (about 20 µs a row on the embedded engine, index entries and all) the largest cost of a
 * logged /decide answer, and the database's cost per row grows with its bytes. So the writer
 * packs the decisions it writes together into one `decision` row, like Cerbos's decision log
 * keeps one entry per call, in a compact form: each decision a tuple, each repeated string
 * (caller, subject, action, type, reason, rule) once in a table. The row is MAC'd and chained
 * like any other; the readers (query, export) expand it back into one event per decision with
 * exactly the data it was recorded with (docs/architecture.md 3.6).
 */

/** The most decisions one row holds, so a page of rows stays a readable size. */
export const DECISIONS_PER_ROW = 256;
/**
 * The longest time one row spans, first decision to last: time filters select rows by their
 * newest decision (`occurred_at`) and widen `until` by this much (see reader.ts).
 */
export const DECISION_ROW_SPAN_MS = 1000;
/** Marks a packed row's data; a later layout gets another name, and readers keep this one. */
const FORMAT = 'decisions/1';

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
 * A decision's fields, flat and in this order: [at (ms), actor, subject, action, type, id,
 * allow, reason, rule, version, latency_us, detail]. The hand-off to the writer thread carries
 * them so (handoff.ts), and packed rows are built from them without an object per decision.
 */
export const DECISION_FIELDS = 12;

/** Appends a packable event's fields (see packable) to `out`. */
export function pushDecisionFields(out: unknown[], event: AuditEvent, at: number): void {
  const d = event.data as unknown as DecisionData;
  out.push(
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

/** The event whose fields start at `fields[offset]`, exactly as it was recorded. */
export function decisionEvent(fields: readonly unknown[], offset: number): Recorded {
  const f = fields.slice(offset, offset + DECISION_FIELDS) as [
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
  return {
    event: { type: 'decision', actor, subject, data: data as unknown as Record<string, unknown> },
    at: new Date(at),
  };
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

/**
 * One packed row in the making: decisions are added as flat fields and go straight into the
 * row's JSON text, each a tuple, each repeated string (caller, subject, action, type, reason,
 * rule, detail) once in the string table. The text is exactly what JSON.stringify would make
 * of the row's data, built without an object or array per decision: that, not the database,
 * was most of the writer's cost per decision (docs/architecture.md 3.6).
 */
export class DecisionRow {
  /** The first decision's time (ms); tuples hold their time after it. */
  readonly first: number;
  /** The newest decision's time (ms): the row's occurred_at. */
  last: number;
  count = 0;
  readonly #strings: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #tuples: string[] = [];
  /** The first decision's fields: a row of one is written as that decision's own row. */
  #firstFields: unknown[] = [];
  #actor: string | undefined;
  #subject: string | undefined;
  #mixedActor = false;
  #mixedSubject = false;
  // One per field, remembering its last string: neighbouring decisions mostly repeat it, and
  // comparing is cheaper than hashing a string that arrived from another thread.
  readonly #last: (string | null | undefined)[] = [null, null, null, null, null, null, null];
  readonly #lastIndex: number[] = [-1, -1, -1, -1, -1, -1, -1];

  constructor(first: number) {
    this.first = first;
    this.last = first;
  }

  /** Whether a decision made at `at` may join: DECISIONS_PER_ROW at most, DECISION_ROW_SPAN_MS wide. */
  fits(at: number): boolean {
    return this.count < DECISIONS_PER_ROW && at - this.first <= DECISION_ROW_SPAN_MS;
  }

  add(fields: readonly unknown[], offset: number): void {
    const f = (i: number) => fields[offset + i];
    const at = f(0) as number;
    const actor = f(1) as string | undefined;
    const subject = f(2) as string | undefined;
    if (this.count === 0) {
      this.#firstFields = fields.slice(offset, offset + DECISION_FIELDS);
      this.#actor = actor;
      this.#subject = subject;
    } else {
      if (actor !== this.#actor) this.#mixedActor = true;
      if (subject !== this.#subject) this.#mixedSubject = true;
    }
    this.count += 1;
    if (at > this.last) this.last = at;
    const id = f(5) as string | undefined;
    const detail = f(11) as string | undefined;
    this.#tuples.push(
      `[${at - this.first},${this.#ref(0, actor)},${this.#ref(1, subject)},${this.#ref(2, f(3) as string)},` +
        `${this.#ref(3, f(4) as string)},${id === undefined ? 'null' : JSON.stringify(storable(id))},` +
        `${f(6) ? 1 : 0},${this.#ref(4, f(7) as string)},${this.#ref(5, f(8) as string | null)},` +
        `${num(f(9) as number)},${num(f(10) as number)}${detail === undefined ? '' : `,${this.#ref(6, detail)}`}]`,
    );
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
    return this.count === 1 ? decisionEvent(this.#firstFields, 0) : undefined;
  }

  /** The row's data as JSON text (FORMAT), strings made storable (see storable). */
  text(): string {
    return (
      `{"format":"${FORMAT}","at":"${new Date(this.first).toISOString()}",` +
      `"strings":${JSON.stringify(this.#strings)},"decisions":[${this.#tuples.join(',')}]}`
    );
  }

  #ref(field: number, value: string | null | undefined): number {
    if (value === this.#last[field]) return this.#lastIndex[field] as number;
    this.#last[field] = value;
    let i = -1;
    if (value !== null && value !== undefined) {
      const text = storable(value);
      i = this.#index.get(text) ?? -1;
      if (i === -1) {
        i = this.#strings.push(text) - 1;
        this.#index.set(text, i);
      }
    }
    this.#lastIndex[field] = i;
    return i;
  }
}

/**
 * A packed row's data as stored. Each decision is a tuple [ms after `at`, actor, subject,
 * action, type, id, allow (1/0), reason, rule, version, latency_us, detail?], the strings
 * except id as indexes into `strings` (-1: none).
 */
interface PackedData {
  format: typeof FORMAT;
  at: string;
  strings: string[];
  decisions: (number | string | null)[][];
}

/** One decision of a packed row, as it was recorded. */
export interface UnpackedDecision {
  at: string;
  actor: string | null;
  subject: string | null;
  data: DecisionData;
}

/** A stored row's decisions, when it is a packed decision row; undefined otherwise. */
export function unpackDecisions(type: string, data: Record<string, unknown>): UnpackedDecision[] | undefined {
  if (type !== 'decision' || data.format !== FORMAT) return undefined;
  const { at, strings, decisions } = data as unknown as PackedData;
  const base = Date.parse(at);
  const text = (i: unknown) => (typeof i === 'number' && i >= 0 ? (strings[i] ?? null) : null);
  return decisions.map((t) => {
    const id = t[5];
    const detail = t.length > 11 ? text(t[11]) : null;
    return {
      at: new Date(base + Number(t[0])).toISOString(),
      actor: text(t[1]),
      subject: text(t[2]),
      data: {
        action: text(t[3]) ?? '',
        resource: typeof id === 'string' ? { type: text(t[4]) ?? '', id } : { type: text(t[4]) ?? '' },
        allow: t[6] === 1,
        reason: text(t[7]) ?? '',
        ...(detail === null ? {} : { detail }),
        rule: text(t[8]),
        version: Number(t[9]),
        latency_us: Number(t[10]),
      },
    };
  });
}
