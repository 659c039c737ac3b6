import type { AuditEvent } from './types.ts';

/**
 * Decisions are the one event recorded at request rate: thousands a second behind a busy
 * gateway, where every other kind comes at human rate. One row per decision made the database
 * insert (about 20 µs a row on the embedded engine, index entries and all) the largest cost of a
 * /decide answer. So the writer packs the decisions it writes together into one `decision` row,
 * `{"decisions":[…]}`, like Cerbos's decision log keeps one entry per call: the row is MAC'd
 * and chained like any other, and the readers (query, export) expand it back into one event per
 * decision, each keeping its own time, caller and subject (docs/architecture.md 3.6).
 */

/** The most decisions one row holds, so a page of rows stays a readable size. */
export const DECISIONS_PER_ROW = 256;
/**
 * The longest time one row spans, first decision to last: time filters select rows by their
 * newest decision (`occurred_at`) and widen `until` by this much (see auditEventQueries.query).
 */
export const DECISION_ROW_SPAN_MS = 1000;

/** One decision inside a packed row: its data, plus whatever differs from the row. */
export interface PackedDecision {
  at: string;
  actor?: string;
  subject?: string;
  [field: string]: unknown;
}

export interface Recorded {
  event: AuditEvent;
  at: Date;
}

/** A packed row before cleaning and MAC'ing: the shape AuditLog turns into a NewAuditRow. */
export interface PackedRow {
  at: Date;
  actor: string | undefined;
  subject: string | undefined;
  decisions: PackedDecision[];
}

/** Decisions carry neither a client id nor an address; any that does keeps a row of its own. */
export function packable({ event }: Recorded): boolean {
  return event.type === 'decision' && event.clientId === undefined && event.ip === undefined;
}

/**
 * Packs consecutive packable events into rows (order is kept: a row ends at the first event
 * that is not a decision), each at most DECISIONS_PER_ROW long and DECISION_ROW_SPAN_MS wide.
 * Returns, in order, either single events or packed rows.
 */
export function packDecisions(batch: Recorded[]): (Recorded | PackedRow)[] {
  const out: (Recorded | PackedRow)[] = [];
  let run: Recorded[] = [];
  const close = () => {
    if (run.length === 1) out.push(run[0] as Recorded);
    else if (run.length > 1) out.push(packRun(run));
    run = [];
  };
  for (const recorded of batch) {
    if (!packable(recorded)) {
      close();
      out.push(recorded);
      continue;
    }
    const first = run[0];
    if (
      first &&
      (run.length >= DECISIONS_PER_ROW || recorded.at.getTime() - first.at.getTime() > DECISION_ROW_SPAN_MS)
    )
      close();
    run.push(recorded);
  }
  close();
  return out;
}

function packRun(run: Recorded[]): PackedRow {
  const actor = common(run, (r) => r.event.actor);
  const subject = common(run, (r) => r.event.subject);
  let at = (run[0] as Recorded).at;
  const decisions = run.map(({ event, at: when }) => {
    if (when > at) at = when;
    const entry: PackedDecision = { at: when.toISOString() };
    if (actor === undefined && event.actor !== undefined) entry.actor = event.actor;
    if (subject === undefined && event.subject !== undefined) entry.subject = event.subject;
    return Object.assign(entry, event.data);
  });
  return { at, actor, subject, decisions };
}

/** The value every event shares, else undefined (then each decision names its own). */
function common(run: Recorded[], field: (r: Recorded) => string | undefined): string | undefined {
  const value = field(run[0] as Recorded);
  if (value === undefined) return undefined;
  for (const r of run) if (field(r) !== value) return undefined;
  return value;
}

/** A stored row's decisions, when it is a packed decision row. */
export function packedDecisions(type: string, data: Record<string, unknown>): PackedDecision[] | undefined {
  if (type !== 'decision' || !Array.isArray(data.decisions)) return undefined;
  return data.decisions as PackedDecision[];
}
