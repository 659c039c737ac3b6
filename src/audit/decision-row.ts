import { type CallLine, decisionRecord, lineDecisions, type Recorded } from './decision-rows.ts';

/**
 * The most decisions one row holds (whole calls: a call of more has a row of its own). As many
 * as the largest page of GET /admin/audit, so such a page can always hold a whole row; a row
 * costs the embedded database about 0.2 ms, so rows of 256 cost the writer half again as much
 * per decision (15 of 35 µs per 20 decisions, in the writer's thread).
 */
export const DECISIONS_PER_ROW = 1000;
/**
 * The longest time one row spans, first call to last: time filters select rows by their newest
 * decision (`occurred_at`) and widen `until` by this much (see reader.ts).
 */
export const DECISION_ROW_SPAN_MS = 1000;

/** The format of a row holding its calls' lines. */
export const INLINE_FORMAT = 'decisions/3';

/**
 * One packed row in the making: whole calls, as their lines, and what the row's columns say
 * (the caller and subject every decision shares, the newest time).
 */
export class DecisionRow {
  /** The first call's time (ms). */
  readonly first: number;
  /** The newest call's time (ms): the row's occurred_at. */
  last: number;
  /** Decisions held. */
  count = 0;
  readonly lines: string[] = [];
  #actor: string | undefined;
  #subject: string | undefined;
  #mixedActor = false;
  #mixedSubject = false;
  /** Where the lines were stored, once they were (segments.ts): a retried write reuses it. */
  stored: string | undefined;

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

  add(at: number, n: number, actor: string | undefined, subject: string | undefined, line: string): void {
    if (this.count === 0) {
      this.#actor = actor;
      this.#subject = subject;
    } else {
      if (actor !== this.#actor) this.#mixedActor = true;
      if (subject !== this.#subject) this.#mixedSubject = true;
    }
    this.count += n;
    if (at > this.last) this.last = at;
    this.lines.push(line);
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
    if (this.count !== 1) return undefined;
    const [decision] = lineDecisions(JSON.parse(this.lines[0] as string) as CallLine);
    return decision && decisionRecord(decision);
  }

  /** The row's lines as a segment holds them: JSON lines. */
  chunk(): string {
    return `${this.lines.join('\n')}\n`;
  }

  /** The row's data holding its lines (INLINE_FORMAT): exactly what JSON.stringify makes of it. */
  text(): string {
    return `{"format":"${INLINE_FORMAT}","calls":[${this.lines.join(',')}]}`;
  }
}
