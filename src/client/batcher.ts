import { stableKey } from './decision-cache.ts';
import type { CheckInput, SubjectInput } from './types.ts';

/** At most this many checks in one `/decide` request (Tollgate's MAX_CHECKS). */
export const MAX_CHECKS = 100;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** One question waiting for its batch, and everyone who asked it. */
export interface Pending<T> {
  check: CheckInput;
  /** The question's stableKey, subject and context included. */
  key: string;
  waiters: Waiter<T>[];
}

/** Checks of one subject under one context, sent together. */
export interface Batch<T> {
  subject: SubjectInput;
  context: Record<string, unknown> | undefined;
  checks: Pending<T>[];
}

/**
 * Collects the checks asked during one turn of the event loop and hands them over grouped by
 * subject and context (a `/decide` batch has one of each), at most MAX_CHECKS a batch, the same
 * question asked twice sent once. `setImmediate` rather than a microtask: checks asked after an
 * `await` in the same turn (each request handler awaiting its own lookups) still join.
 */
export class CheckBatcher<T> {
  readonly #send: (batch: Batch<T>) => void;
  #groups = new Map<string, { batch: Batch<T>; byKey: Map<string, Pending<T>> }>();
  #scheduled = false;

  constructor(send: (batch: Batch<T>) => void) {
    this.#send = send;
  }

  /** `key` is the question's stableKey (computed once by the caller, who caches by it too). */
  add(subject: SubjectInput, context: Record<string, unknown> | undefined, check: CheckInput, key: string) {
    return new Promise<T>((resolve, reject) => {
      const groupKey = stableKey([subject, context ?? null]);
      let group = this.#groups.get(groupKey);
      if (group === undefined) {
        group = { batch: { subject, context, checks: [] }, byKey: new Map() };
        this.#groups.set(groupKey, group);
      }
      let pending = group.byKey.get(key);
      if (pending === undefined) {
        pending = { check, key, waiters: [] };
        group.byKey.set(key, pending);
        group.batch.checks.push(pending);
      }
      pending.waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const groups = this.#groups;
    this.#groups = new Map();
    this.#scheduled = false;
    for (const { batch } of groups.values()) {
      for (let start = 0; start < batch.checks.length; start += MAX_CHECKS)
        this.#send({ ...batch, checks: batch.checks.slice(start, start + MAX_CHECKS) });
    }
  }
}

/** Settles every waiter of every check in `checks`. */
export function settle<T>(checks: readonly Pending<T>[], outcome: (index: number) => T): void {
  for (const [index, pending] of checks.entries())
    for (const waiter of pending.waiters) waiter.resolve(outcome(index));
}

export function fail<T>(checks: readonly Pending<T>[], error: unknown): void {
  for (const pending of checks) for (const waiter of pending.waiters) waiter.reject(error);
}
