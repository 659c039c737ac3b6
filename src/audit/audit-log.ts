import { auditEventQueries, type DatabaseHandle, type NewAuditRow } from '../db/index.ts';
import type { AuditKey } from './audit-keys.ts';
import { type ChainHead, GENESIS_HASH, linkHash } from './chain.ts';
import { DecisionRow } from './decision-row.ts';
import { callLine } from './decision-rows.ts';
import { EventRow, type HandedEvent } from './event-row.ts';
import type { HandedCall } from './handoff.ts';
import { type BufferedRow, RowBuffer } from './row-buffer.ts';
import { SegmentWriter, segmentData } from './segments.ts';
import { dataText, storableOrNull } from './stored-text.ts';
import type { AuditEvent, AuditSink, DecisionCall } from './types.ts';

export interface AuditLogOptions {
  /** Events held while the database is slow or away; beyond it new events are counted, not kept. */
  capacity: number;
  /** Rows per INSERT (one transaction, one advisory lock). */
  batchSize: number;
  /** How often the buffer is written. */
  flushMs: number;
  /** The audit key that MACs every row written. */
  key: AuditKey;
  /**
   * Where packed decision rows keep their lines (segments.ts): the embedded database with a
   * data directory. Unset, the rows hold them.
   */
  segmentDir?: string | undefined;
}

export interface AuditLogMetrics {
  depth(value: number): void;
  dropped(count: number): void;
  written(count: number, seconds: number): void;
  failed(): void;
}

export const NO_AUDIT_METRICS: AuditLogMetrics = {
  depth() {},
  dropped() {},
  written() {},
  failed() {},
};

/** Rows this writer appended are gone: it wrote up to `wrote`, the table ended at `table_ended_at`. */
export interface TamperingDetail {
  wrote: number;
  table_ended_at: number;
}

export interface AuditLogHooks {
  metrics?: AuditLogMetrics;
  onError: (error: unknown) => void;
  onTampering?: (detail: TamperingDetail) => void;
}

/**
 * The audit log's writer. `record` only appends to an in-memory buffer (no I/O on the request
 * path); a timer writes the buffer in batches, each appended to the hash chain in one
 * transaction. While the database is away the buffer keeps the events and writing is retried;
 * when it is full, further events are counted, and the count is itself written (`audit.dropped`,
 * with the time span) ahead of the next batch, so a loss is never silent.
 */
export class AuditLog implements AuditSink {
  readonly #db: DatabaseHandle;
  readonly #options: AuditLogOptions;
  readonly #metrics: AuditLogMetrics;
  readonly #onError: (error: unknown) => void;
  readonly #onTampering: (detail: TamperingDetail) => void;
  readonly #buffer = new RowBuffer();
  readonly #segments: SegmentWriter | undefined;
  #dropped: { count: number; first: Date; last: Date } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failing = false;
  #lastWritten: ChainHead | undefined;

  constructor(db: DatabaseHandle, options: AuditLogOptions, hooks: AuditLogHooks) {
    this.#db = db;
    this.#options = options;
    this.#metrics = hooks.metrics ?? NO_AUDIT_METRICS;
    this.#onError = hooks.onError;
    this.#onTampering = hooks.onTampering ?? (() => {});
    this.#segments = options.segmentDir === undefined ? undefined : new SegmentWriter(options.segmentDir);
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.#options.flushMs);
    this.#timer.unref();
  }

  /** `at`: when it happened, if not now (events recorded in another thread). */
  record(event: AuditEvent, at = new Date()): void {
    if (this.#full(at)) return;
    this.#buffer.add({ event, at });
    this.#metrics.depth(this.#buffer.events);
  }

  recordDecisions(call: DecisionCall): void {
    const at = Date.now();
    this.recordCall(at, call.checks.length, call.caller, call.subject, callLine(call, at));
  }

  /**
   * A call of `n` decisions as its line (decision-rows.ts: callLine): how the writer thread
   * takes the decisions handed to it.
   */
  recordCall(...call: HandedCall): void {
    const [at, n] = call;
    if (this.#full(at, n)) return;
    this.#buffer.addCall(...call);
    this.#metrics.depth(this.#buffer.events);
  }

  /** An event of a packed type as its line (event-row.ts), as the writer thread takes it. */
  recordEvent(...event: HandedEvent): void {
    if (this.#full(event[0])) return;
    this.#buffer.addEvent(...event);
    this.#metrics.depth(this.#buffer.events);
  }

  /** Whether the buffer is full; the `count` events made at `at` are then counted as dropped. */
  #full(at: Date | number, count = 1): boolean {
    if (this.#buffer.events < this.#options.capacity) return false;
    const when = new Date(at);
    if (this.#dropped) {
      this.#dropped.count += count;
      this.#dropped.last = when;
    } else this.#dropped = { count, first: when, last: when };
    this.#metrics.dropped(count);
    return true;
  }

  /** The newest row this writer appended: a checkpoint never records less (see checkpoints.ts). */
  get lastWritten(): ChainHead | undefined {
    return this.#lastWritten;
  }

  /** Events waiting to be written. */
  get depth(): number {
    return this.#buffer.events;
  }

  /** Writes everything buffered so far (one batch at a time); resolves when done or failed. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and writes what is buffered, giving up after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + graceMs;
    while ((this.#buffer.events > 0 || this.#dropped) && Date.now() < deadline) {
      await this.flush();
      if (this.#failing) await new Promise((done) => setTimeout(done, 100));
    }
    await this.#segments?.close().catch(this.#onError);
  }

  /**
   * The rows to insert. A packed row's lines go to the segment file first, when there is one,
   * made durable before the row pointing at them can commit; a retried batch reuses them.
   */
  async #rowsOf(items: BufferedRow[]): Promise<NewAuditRow[]> {
    const segments = this.#segments;
    if (!segments) return items.map((item) => toRow(item));
    const rows: NewAuditRow[] = [];
    for (const item of items) {
      if (item instanceof DecisionRow && item.count > 1) {
        item.stored ??= segmentData(await segments.append(item.chunk()), item.count);
        rows.push(toRow(item, item.stored));
      } else rows.push(toRow(item));
    }
    await segments.sync();
    return rows;
  }

  async #drain(): Promise<void> {
    // Only what is buffered now: events arriving meanwhile wait for the next tick, so a steady
    // stream is written in full batches rather than as a trickle of one-event transactions.
    let due = this.#buffer.events;
    while (due > 0 || this.#dropped) {
      // Up to batchSize rows in one transaction, decisions packed several to a row
      // (decision-rows.ts): a transaction costs more than a row, so a busy stream of decisions
      // is written in few of them. Counts stay in events.
      const batch = this.#buffer.peek(this.#options.batchSize);
      // A copy: drops counted while this batch is written belong to the next one.
      const dropped = this.#dropped && { ...this.#dropped };
      const started = performance.now();
      try {
        const rows = await this.#rowsOf(batch.rows);
        if (dropped) rows.unshift(droppedRow(dropped));
        const key = this.#options.key;
        const { after, head } = await auditEventQueries(this.#db.db).append(rows, {
          keyId: key.id,
          genesis: GENESIS_HASH,
          link: (prevHash, row) => linkHash(key, prevHash, row),
        });
        // The table ended before a row this writer had appended: someone deleted its tail.
        // The new rows chain on from what is left, so only this writer can tell right now.
        const own = this.#lastWritten;
        if (own && after < own.seq) this.#onTampering({ wrote: own.seq, table_ended_at: after });
        this.#lastWritten = head;
      } catch (error) {
        this.#metrics.failed();
        // One report per outage, not one per retry.
        if (!this.#failing) this.#onError(error);
        this.#failing = true;
        return;
      }
      this.#failing = false;
      this.#buffer.remove(batch);
      due -= batch.events;
      if (dropped && this.#dropped) {
        this.#dropped.count -= dropped.count;
        if (this.#dropped.count === 0) this.#dropped = undefined;
        else this.#dropped.first = dropped.last;
      }
      this.#metrics.written(batch.events + (dropped ? 1 : 0), (performance.now() - started) / 1000);
      this.#metrics.depth(this.#buffer.events);
    }
  }
}

/** An AuditSink that keeps nothing (tests and tools that need no evidence). */
export const NOP_AUDIT: AuditSink = { record() {} };

/** `data`: a packed row's data when its lines are elsewhere (segments.ts). */
function toRow(item: BufferedRow, data?: string): NewAuditRow {
  if (item instanceof DecisionRow) {
    const single = item.single;
    if (!single) {
      return {
        occurred_at: new Date(item.last),
        type: 'decision',
        actor: storableOrNull(item.actor),
        subject: storableOrNull(item.subject),
        client_id: null,
        ip: null,
        data: data ?? item.text(),
      };
    }
    item = single;
  } else if (item instanceof EventRow) {
    const single = item.single;
    if (!single) {
      return {
        occurred_at: new Date(item.last),
        type: item.type,
        actor: storableOrNull(item.column('actor')),
        subject: storableOrNull(item.column('subject')),
        client_id: storableOrNull(item.column('clientId')),
        ip: storableOrNull(item.column('ip')),
        data: item.text(),
      };
    }
    item = single;
  }
  const { event, at } = item;
  return {
    occurred_at: at,
    type: event.type,
    actor: storableOrNull(event.actor),
    subject: storableOrNull(event.subject),
    client_id: storableOrNull(event.clientId),
    ip: storableOrNull(event.ip),
    data: dataText(event.data ?? {}),
  };
}

function droppedRow(dropped: { count: number; first: Date; last: Date }): NewAuditRow {
  return {
    occurred_at: dropped.last,
    type: 'audit.dropped',
    actor: null,
    subject: null,
    client_id: null,
    ip: null,
    data: dataText({
      count: dropped.count,
      from: dropped.first.toISOString(),
      to: dropped.last.toISOString(),
    }),
  };
}
