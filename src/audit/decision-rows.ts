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
 * [ms after the row's first, actor, subject, action, type, id, allow (1/0), reason, rule,
 * version, latency_us, detail?]: the strings except id as indexes into `strings` (-1: none).
 */
type Tuple = (number | string | null)[];

interface PackedData {
  format: typeof FORMAT;
  at: string;
  strings: string[];
  decisions: Tuple[];
}

/** A packed row before cleaning and MAC'ing: the shape AuditLog turns into a NewAuditRow. */
export interface PackedRow {
  at: Date;
  actor: string | undefined;
  subject: string | undefined;
  data: PackedData;
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

/**
 * Packs consecutive packable events from the start of `buffer` into rows (order is kept: a row
 * ends at the first event that is not a decision), each at most DECISIONS_PER_ROW long and
 * DECISION_ROW_SPAN_MS wide, and stops at `maxRows` rows. Returns the rows, in order (single
 * events and packed rows), and how many events of `buffer` they hold.
 */
export function packDecisions(
  buffer: readonly Recorded[],
  maxRows = Number.POSITIVE_INFINITY,
): { rows: (Recorded | PackedRow)[]; consumed: number } {
  const rows: (Recorded | PackedRow)[] = [];
  let run: Recorded[] = [];
  let consumed = 0;
  const close = () => {
    if (run.length === 1) rows.push(run[0] as Recorded);
    else if (run.length > 1) rows.push(packRun(run));
    run = [];
  };
  for (const recorded of buffer) {
    const decision = packable(recorded.event);
    const first = run[0];
    const joins =
      decision &&
      first !== undefined &&
      run.length < DECISIONS_PER_ROW &&
      recorded.at.getTime() - first.at.getTime() <= DECISION_ROW_SPAN_MS;
    if (!joins) {
      close();
      // This event starts a row: is there room for one more?
      if (rows.length >= maxRows) break;
    }
    if (decision) run.push(recorded);
    else rows.push(recorded);
    consumed += 1;
  }
  close();
  return { rows, consumed };
}

function packRun(run: Recorded[]): PackedRow {
  const first = run[0] as Recorded;
  const base = first.at.getTime();
  const strings: string[] = [];
  const index = new Map<string, number>();
  const lookup = (value: string): number => {
    let i = index.get(value);
    if (i === undefined) {
      i = strings.push(value) - 1;
      index.set(value, i);
    }
    return i;
  };
  // One per field, remembering its last string: neighbouring decisions mostly repeat it, and
  // comparing is cheaper than hashing a string that arrived from another thread.
  const field = () => {
    let last: string | null | undefined = null;
    let lastIndex = -1;
    return (value: string | null | undefined): number => {
      if (value === last) return lastIndex;
      last = value;
      lastIndex = value === null || value === undefined ? -1 : lookup(value);
      return lastIndex;
    };
  };
  const [actorOf, subjectOf, actionOf, typeOf, reasonOf, ruleOf, detailOf] = Array.from({ length: 7 }, field);
  let at = first.at;
  const decisions = run.map(({ event, at: when }) => {
    if (when > at) at = when;
    const d = event.data as unknown as DecisionData;
    const tuple: Tuple = [
      when.getTime() - base,
      actorOf(event.actor),
      subjectOf(event.subject),
      actionOf(d.action),
      typeOf(d.resource.type),
      d.resource.id ?? null,
      d.allow ? 1 : 0,
      reasonOf(d.reason),
      ruleOf(d.rule),
      d.version,
      d.latency_us,
    ];
    if (d.detail !== undefined) tuple.push(detailOf(d.detail));
    return tuple;
  });
  return {
    at,
    actor: common(run, (r) => r.event.actor),
    subject: common(run, (r) => r.event.subject),
    data: { format: FORMAT, at: first.at.toISOString(), strings, decisions },
  };
}

/** The value every event shares, else undefined (the row's column is then null). */
function common(run: Recorded[], field: (r: Recorded) => string | undefined): string | undefined {
  const value = field(run[0] as Recorded);
  if (value === undefined) return undefined;
  for (const r of run) if (field(r) !== value) return undefined;
  return value;
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
