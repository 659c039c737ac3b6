import { type AuditFilter, type AuditRow, auditEventQueries, type DatabaseHandle } from '../db/index.ts';
import type { AuditKeys } from './audit-keys.ts';
import { type ChainHead, type ChainVerdict, ChainWalk, sameHash } from './chain.ts';
import { DECISION_ROW_SPAN_MS } from './decision-row.ts';
import type { DecisionData, UnpackedDecision } from './decision-rows.ts';
import { PACKED_EVENT_TYPES, unpackEvents } from './event-row.ts';
import { chunkDecisions, unpackDecisions } from './packed-rows.ts';
import { readSegment, SEGMENT_FORMAT } from './segments.ts';

/** An audit event as the admin API, the CLI and exports show it. */
export interface AuditRecord {
  seq: number;
  occurred_at: string;
  type: string;
  actor: string | null;
  subject: string | null;
  client_id: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  hash: string;
  /** The audit key that MACs the row; null for rows from before the chain was keyed. */
  key_id: string | null;
  /** An event's place in its row, when the row holds several (seq and hash are the row's). */
  index?: number;
}

type Filter = Omit<AuditFilter, 'limit' | 'after' | 'before' | 'order' | 'subjectInData'>;

const PAGE = 1000;

/**
 * The events a row holds: itself, each event of a packed event row (event-row.ts), or each
 * decision of a packed decision row (decision-rows.ts), whose lines may be in a segment file
 * under `segments` (segments.ts). A segment row whose lines cannot be read (or do not match
 * their digest) is shown as itself, with the `problem`.
 */
export async function toRecords(
  row: AuditRow,
  filter: Filter = {},
  segments?: string,
): Promise<AuditRecord[]> {
  const packed = unpackEvents(row.type, row.data);
  if (packed) {
    return expand(
      row,
      packed.map(({ event, at }) => ({
        occurred_at: at.toISOString(),
        actor: event.actor ?? null,
        subject: event.subject ?? null,
        client_id: event.clientId ?? null,
        ip: event.ip ?? null,
        data: event.data ?? {},
      })),
      filter,
    );
  }
  const decisions = await decisionsOf(row, segments);
  if (!Array.isArray(decisions)) {
    const record = toRecord(row);
    if (decisions !== undefined) record.data = { ...record.data, problem: decisions };
    // Still filtered: the row query is wider than the filter (see rowFilter).
    return matches(record, filter) ? [record] : [];
  }
  return expand(
    row,
    decisions.map(({ at, actor, subject, data }) => ({
      occurred_at: at,
      actor,
      subject,
      data: data as unknown as Record<string, unknown>,
    })),
    filter,
  );
}

/** A packed row's events as records: the row's seq, hash and key, each event's own fields and place. */
function expand(row: AuditRow, events: Partial<AuditRecord>[], filter: Filter): AuditRecord[] {
  const records: AuditRecord[] = [];
  events.forEach((own, index) => {
    const record: AuditRecord = { ...toRecord(row), ...own, index };
    if (matches(record, filter)) records.push(record);
  });
  return records;
}

/** A row's decisions, packed in its data or in a segment; a problem reading them; undefined for other rows. */
async function decisionsOf(
  row: AuditRow,
  segments: string | undefined,
): Promise<UnpackedDecision[] | string | undefined> {
  if (row.type === 'decision' && row.data.format === SEGMENT_FORMAT) {
    const chunk = await readSegment(segments, row.data);
    return 'problem' in chunk ? chunk.problem : chunkDecisions(chunk.text);
  }
  return unpackDecisions(row.type, row.data);
}

/** Why a segment row does not hold (its lines missing, cut short or edited); undefined if it does or is no segment row. */
async function segmentProblem(row: AuditRow, segments: string | undefined): Promise<string | undefined> {
  if (row.type !== 'decision' || row.data.format !== SEGMENT_FORMAT) return undefined;
  const chunk = await readSegment(segments, row.data);
  return 'problem' in chunk ? chunk.problem : undefined;
}

/** The filter applied to one event of a packed row (the query selected the row as a whole). */
function matches(record: AuditRecord, { since, until, subject }: Filter): boolean {
  const at = Date.parse(record.occurred_at);
  if (since && at < since.getTime()) return false;
  if (until && at >= until.getTime()) return false;
  return subject === undefined || record.subject === subject;
}

/** The row-level query for a filter: wide enough for every packed row holding a match. */
function rowFilter(filter: Filter): Filter & Pick<AuditFilter, 'subjectInData'> {
  return {
    ...filter,
    ...(filter.until ? { until: new Date(filter.until.getTime() + DECISION_ROW_SPAN_MS) } : {}),
    ...(filter.subject !== undefined
      ? // A packed row holds its subjects as JSON strings; a segment row holds none, its lines
        // do, so every segment row of mixed subjects is read (its format is in its text).
        {
          subjectInData: {
            types: ['decision', ...PACKED_EVENT_TYPES],
            needles: [JSON.stringify(filter.subject), `"format":"${SEGMENT_FORMAT}"`],
          },
        }
      : {}),
  };
}

export function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    occurred_at: row.occurred_at.toISOString(),
    type: row.type,
    actor: row.actor,
    subject: row.subject,
    client_id: row.client_id,
    ip: row.ip,
    data: row.data,
    hash: row.hash,
    key_id: row.key_id,
  };
}

/**
 * Walks the whole chain in order with the audit keys and stops at the first row that does not
 * hold (see ChainWalk). `expectHead`, a head recorded outside the database (an earlier verify,
 * a checkpoint), must still be there with the same hash: that is what catches a deleted tail,
 * which leaves a shorter chain that is itself intact.
 */
export async function verifyAuditChain(
  db: DatabaseHandle,
  keys: AuditKeys,
  options: { expectHead?: ChainHead; segments?: string | undefined } = {},
): Promise<ChainVerdict> {
  const queries = auditEventQueries(db.db);
  const walk = new ChainWalk(keys);
  let expected: string | undefined;
  const { expectHead } = options;
  for (;;) {
    const page = await queries.page(walk.lastSeq, PAGE);
    for (const row of page) {
      if (row.seq === expectHead?.seq) expected = row.hash;
      // A segment row's MAC covers its digest; the lines themselves must match it too.
      if (!walk.add(row, await segmentProblem(row, options.segments))) return walk.verdict();
    }
    if (page.length < PAGE) break;
  }
  const verdict = walk.verdict();
  if (!expectHead) return verdict;
  const problem =
    expected === undefined
      ? `row ${expectHead.seq} is missing: the table ends at seq ${verdict.head?.seq ?? 0} (rows after it were deleted)`
      : sameHash(expectHead.hash, expected)
        ? undefined
        : `row ${expectHead.seq} has another hash than expected (history rewritten)`;
  return problem ? { ...verdict, ok: false, first_bad: { seq: expectHead.seq, problem } } : verdict;
}

/** One page of `queryAudit`, and the seq to pass on to continue in the same direction. */
export interface AuditPage {
  events: AuditRecord[];
  /** In chain order: pass as `after` for the next page; null at the end (or newest first). */
  nextAfter: number | null;
  /** Newest first: pass as `before` for the next (older) page; null at the end (or in chain order). */
  nextBefore: number | null;
}

/**
 * One page of events between `filter.after` and `filter.before` (seqs, both exclusive), at most
 * `filter.limit` of them, in chain order or newest first. A page holds whole rows: it stops
 * before a packed row whose decisions would not fit, unless that row comes first, when it is
 * returned whole. Newest first, a packed row's decisions come last first too.
 */
export async function queryAudit(
  db: DatabaseHandle,
  filter: AuditFilter,
  segments?: string,
): Promise<AuditPage> {
  const newestFirst = filter.order === 'desc';
  const rows = await auditEventQueries(db.db).query({ ...rowFilter(filter), ...paging(filter) });
  const events: AuditRecord[] = [];
  let lastSeq: number | undefined;
  let more = rows.length === filter.limit;
  for (const row of rows) {
    const records = await toRecords(row, filter, segments);
    if (events.length > 0 && events.length + records.length > filter.limit) {
      more = true;
      break;
    }
    events.push(...(newestFirst ? records.reverse() : records));
    lastSeq = row.seq;
  }
  const cursor = more ? (lastSeq ?? null) : null;
  return { events, nextAfter: newestFirst ? null : cursor, nextBefore: newestFirst ? cursor : null };
}

const paging = ({ after, before, order, limit }: AuditFilter) => ({ after, before, order, limit });

/** Every matching event in chain order, a page at a time (for JSON-lines exports). */
export async function* exportAudit(
  db: DatabaseHandle,
  filter: Filter,
  segments?: string,
): AsyncGenerator<AuditRecord> {
  let after = 0;
  for (;;) {
    const page = await auditEventQueries(db.db).query({ ...rowFilter(filter), after, limit: PAGE });
    for (const row of page) yield* await toRecords(row, filter, segments);
    if (page.length < PAGE) return;
    after = page[page.length - 1]?.seq ?? after;
  }
}

/** A page of `recentDecisions`: decisions as recorded, and those of rows that could not be read. */
export interface DecisionPage {
  decisions: UnpackedDecision[];
  /** Decisions whose segment lines are missing or do not match their digest (verify names the rows). */
  unreadable: number;
}

/** Rows asked for at first; later pages ask for as many as the decisions still wanted need. */
const FIRST_ROWS = 50;

/**
 * The newest `limit` decisions in the window, newest first, a page of rows at a time: what a
 * policy impact preview replays (POST /admin/policies/preview). Decisions come as recorded,
 * without the row columns an AuditRecord repeats for each: a preview reads a hundred thousand.
 */
export async function* recentDecisions(
  db: DatabaseHandle,
  window: Pick<Filter, 'since' | 'until'>,
  limit: number,
  segments?: string,
): AsyncGenerator<DecisionPage> {
  const queries = auditEventQueries(db.db);
  const since = window.since?.toISOString();
  const until = window.until?.toISOString();
  let left = limit;
  let before: number | undefined;
  let rows = FIRST_ROWS;
  while (left > 0) {
    const filter = { ...rowFilter(window), type: 'decision', order: 'desc' as const, limit: rows, before };
    const page = await queries.query(filter);
    const out: DecisionPage = { decisions: [], unreadable: 0 };
    for (const row of page) {
      const decisions = await decisionsOf(row, segments);
      if (typeof decisions === 'string') {
        out.unreadable += typeof row.data.decisions === 'number' ? row.data.decisions : 1;
        continue;
      }
      const held = decisions ?? [
        {
          at: row.occurred_at.toISOString(),
          actor: row.actor,
          subject: row.subject,
          data: row.data as unknown as DecisionData,
        },
      ];
      // Newest first, in a row too; ISO instants of one format order as strings.
      for (let i = held.length - 1; i >= 0 && left > 0; i--) {
        const decision = held[i] as UnpackedDecision;
        if ((since && decision.at < since) || (until && decision.at >= until)) continue;
        out.decisions.push(decision);
        left -= 1;
      }
      if (left === 0) break;
    }
    yield out;
    if (page.length < rows) return;
    before = page[page.length - 1]?.seq;
    // Rows hold from one decision to a thousand: ask for about as many rows as are still wanted.
    const perRow = Math.max(1, out.decisions.length / page.length);
    rows = Math.min(PAGE, Math.max(FIRST_ROWS, Math.ceil(left / perRow)));
  }
}
