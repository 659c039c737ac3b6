import { DecisionRow } from './decision-row.ts';
import { eventLine, packable, type Recorded } from './decision-rows.ts';
import { EventRow, type HandedEvent, packedEvent, packedEventLine } from './event-row.ts';
import type { HandedCall } from './handoff.ts';

/** One row to be written: an event of its own, or decisions or events packed together. */
export type BufferedRow = Recorded | DecisionRow | EventRow;

/** Events a buffered row holds. */
export const eventsIn = (row: BufferedRow): number =>
  row instanceof DecisionRow || row instanceof EventRow ? row.count : 1;

/**
 * The writer's buffer, in rows: consecutive calls join the open packed row while it has room
 * (decision-rows.ts), as consecutive events of one packed type do theirs (event-row.ts); any
 * other event ends it and takes a row of its own, so order is kept. Counts are in events, as
 * the buffer's capacity and the metrics are.
 */
export class RowBuffer {
  #rows: BufferedRow[] = [];
  #open: DecisionRow | EventRow | undefined;
  #events = 0;

  /** Events held. */
  get events(): number {
    return this.#events;
  }

  /** An event recorded as an object: a decision of the decision log's shape joins a packed row. */
  add(recorded: Recorded): void {
    const { event, at } = recorded;
    if (packable(event)) {
      const ms = at.getTime();
      this.addCall(ms, 1, event.actor, event.subject, eventLine(event, ms));
      return;
    }
    if (packedEvent(event)) {
      const ms = at.getTime();
      const { type, actor, subject, clientId, ip } = event;
      this.addEvent(ms, type, actor, subject, clientId, ip, packedEventLine(event, ms));
      return;
    }
    this.#open = undefined;
    this.#rows.push(recorded);
    this.#events += 1;
  }

  /** A call of `n` decisions as its line (decision-rows.ts: callLine). */
  addCall(...[at, n, actor, subject, line]: HandedCall): void {
    let row = this.#open;
    if (!(row instanceof DecisionRow && row.fits(at, n))) {
      row = new DecisionRow(at);
      this.#open = row;
      this.#rows.push(row);
    }
    row.add(at, n, actor, subject, line);
    this.#events += n;
  }

  /** An event of a packed type as its line (event-row.ts). */
  addEvent(...event: HandedEvent): void {
    const [at, type] = event;
    let row = this.#open;
    if (!(row instanceof EventRow && row.fits(type, at))) {
      row = new EventRow(type, at);
      this.#open = row;
      this.#rows.push(row);
    }
    row.add(...event);
    this.#events += 1;
  }

  /**
   * The first `maxRows` rows, to be written in one transaction, and the events they hold. The
   * open row is closed first: decisions arriving while these are written start a new one.
   */
  peek(maxRows: number): { rows: BufferedRow[]; events: number } {
    this.#open = undefined;
    const rows = this.#rows.slice(0, maxRows);
    let events = 0;
    for (const row of rows) events += eventsIn(row);
    return { rows, events };
  }

  /** Drops what `peek` returned, once written. */
  remove(taken: { rows: BufferedRow[]; events: number }): void {
    this.#rows.splice(0, taken.rows.length);
    this.#events -= taken.events;
  }
}
