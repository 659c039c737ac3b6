import { DECISION_ROW_SPAN_MS, DECISIONS_PER_ROW } from './decision-row.ts';
import type { Recorded } from './decision-rows.ts';
import { dataText } from './stored-text.ts';
import type { AuditEvent, AuditEventType } from './types.ts';

/**
 * Besides decisions, the events recorded at request rate: one per token answered or refused.
 * One row each made the database insert the largest single cost of issuing a token (about
 * 100 µs of the embedded database's thread per row, bench/token.ts), so consecutive events of
 * one of these types share a row the way decisions do (decision-rows.ts), each kept as one
 * line of JSON holding exactly what its own row would have held. The row is MAC'd and chained
 * like any other; the readers give each event back as its own record (reader.ts,
 * docs/architecture.md 3.6). A row that ends up holding one event is written as that event's
 * ordinary row.
 */
export const PACKED_EVENT_TYPES: ReadonlySet<AuditEventType> = new Set(['token.issued', 'token.refused']);

/** The format of a row holding events as their lines. */
export const EVENT_FORMAT = 'events/1';

/** As for decisions: a page of GET /admin/audit can always hold a whole row, and a row spans 1 s at most. */
export const EVENTS_PER_ROW = DECISIONS_PER_ROW;
export const EVENT_ROW_SPAN_MS = DECISION_ROW_SPAN_MS;

/** An event as its row's line: [at (ms since the epoch), actor, subject, client_id, ip, data], absent columns null. */
type EventLine = [
  number,
  string | null,
  string | null,
  string | null,
  string | null,
  Record<string, unknown>,
];

/** An event handed to the writer as a line: when, its type, the row columns it fills, its line. */
export type HandedEvent = [
  at: number,
  type: AuditEventType,
  actor: string | undefined,
  subject: string | undefined,
  clientId: string | undefined,
  ip: string | undefined,
  line: string,
];

export function packedEvent(event: AuditEvent): boolean {
  return PACKED_EVENT_TYPES.has(event.type);
}

/**
 * An event's line: its columns and its data made storable exactly as its own row's would be
 * (stored-text.ts), the data by the same dataText, so that even data that cannot be serialized
 * is kept the same way.
 */
export function packedEventLine(event: AuditEvent, at: number): string {
  const head = dataText([
    at,
    event.actor ?? null,
    event.subject ?? null,
    event.clientId ?? null,
    event.ip ?? null,
  ]);
  return `${head.slice(0, -1)},${dataText(event.data ?? {})}]`;
}

/** The event a line holds, as it was recorded (absent columns absent). */
function lineEvent(type: AuditEventType, [at, actor, subject, clientId, ip, data]: EventLine): Recorded {
  const event: AuditEvent = { type };
  if (actor !== null) event.actor = actor;
  if (subject !== null) event.subject = subject;
  if (clientId !== null) event.clientId = clientId;
  if (ip !== null) event.ip = ip;
  event.data = data;
  return { event, at: new Date(at) };
}

/** The columns a packed row fills only where all its events agree. */
type Columns = Record<'actor' | 'subject' | 'clientId' | 'ip', string | undefined | null>;
const COLUMN_NAMES = ['actor', 'subject', 'clientId', 'ip'] as const;

/** One row of consecutive events of one type in the making, as their lines. */
export class EventRow {
  readonly type: AuditEventType;
  /** The first event's time (ms). */
  readonly first: number;
  /** The newest event's time (ms): the row's occurred_at. */
  last: number;
  count = 0;
  readonly lines: string[] = [];
  /** The value all events share, or null once they differ. */
  #columns: Columns | undefined;

  constructor(type: AuditEventType, first: number) {
    this.type = type;
    this.first = first;
    this.last = first;
  }

  /** Whether an event of `type` made at `at` may join: same type, EVENTS_PER_ROW, EVENT_ROW_SPAN_MS. */
  fits(type: AuditEventType, at: number): boolean {
    if (this.count === 0) return true;
    return type === this.type && this.count < EVENTS_PER_ROW && at - this.first <= EVENT_ROW_SPAN_MS;
  }

  add(...[at, , actor, subject, clientId, ip, line]: HandedEvent): void {
    const own: Columns = { actor, subject, clientId, ip };
    const shared = this.#columns;
    if (!shared) this.#columns = own;
    else for (const name of COLUMN_NAMES) if (shared[name] !== own[name]) shared[name] = null;
    this.count += 1;
    if (at > this.last) this.last = at;
    this.lines.push(line);
  }

  /** A column's value shared by every event, else undefined. */
  column(name: keyof Columns): string | undefined {
    return this.#columns?.[name] ?? undefined;
  }

  /** A row of one event: that event, to be written as an ordinary row. */
  get single(): Recorded | undefined {
    if (this.count !== 1) return undefined;
    return lineEvent(this.type, JSON.parse(this.lines[0] as string) as EventLine);
  }

  /** The row's data (EVENT_FORMAT): exactly what JSON.stringify makes of it. */
  text(): string {
    return `{"format":"${EVENT_FORMAT}","events":[${this.lines.join(',')}]}`;
  }
}

/** A stored row's events, when it is a packed event row; undefined otherwise. */
export function unpackEvents(type: string, data: Record<string, unknown>): Recorded[] | undefined {
  if (!PACKED_EVENT_TYPES.has(type as AuditEventType) || data.format !== EVENT_FORMAT) return undefined;
  const events = data.events;
  if (!Array.isArray(events)) return undefined;
  return (events as EventLine[]).map((line) => lineEvent(type as AuditEventType, line));
}
