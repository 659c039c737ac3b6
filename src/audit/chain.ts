import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { AuditRow, NewAuditRow } from '../db/index.ts';
import type { AuditKey, AuditKeys } from './audit-keys.ts';

/** The predecessor of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

type LinkedRow = NewAuditRow & { seq: number };

/**
 * A row's link in the chain: HMAC-SHA256 under the audit key over the previous row's hash and
 * the row's own fields as a JSON array (key id, seq, time, type, actor, subject, client,
 * address, and the data's JSON text exactly as stored). An array has no key order to disagree
 * about, and the data column keeps its text verbatim, so the MAC is recomputed from what is
 * stored. Without the key nobody can append, edit or re-link a row (issue 10): the database
 * holds the MACs, never the key.
 */
export function linkHash(key: AuditKey, prevHash: string, row: LinkedRow): string {
  return createHmac('sha256', key.key)
    .update(prevHash + JSON.stringify([key.id, ...fields(row)]))
    .digest('hex');
}

/** Rows written before the chain was keyed: plain SHA-256, which anyone could recompute. */
export function legacyLinkHash(prevHash: string, row: LinkedRow): string {
  return hash('sha256', prevHash + JSON.stringify(fields(row)), 'hex');
}

function fields(row: LinkedRow): unknown[] {
  return [
    row.seq,
    row.occurred_at.toISOString(),
    row.type,
    row.actor,
    row.subject,
    row.client_id,
    row.ip,
    row.data,
  ];
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** What `audit verify` reports (admin API and CLI, `--json` prints it as is). */
export interface ChainVerdict {
  ok: boolean;
  /** Rows that verified, from the first: all of them when ok. */
  rows: number;
  /** The last row that verified; null for an empty table. */
  head: ChainHead | null;
  /** How many rows each audit key MAC'd (by key id). */
  keys: Record<string, number>;
  /** Rows from before the chain was keyed; the first keyed row after them anchors their hashes. */
  legacy_rows: number;
  /** The first row that does not hold, and why. */
  first_bad?: { seq: number; problem: string };
}

/**
 * Walks stored rows in seq order and stops at the first that does not hold: a gap in seq
 * (deleted rows), a prev_hash that is not its predecessor's hash, a key that is not one of
 * ours, a MAC that does not match the content (edited or forged), or an unkeyed row after the
 * keyed chain began (written by someone without the key).
 */
export class ChainWalk {
  readonly #keys: AuditKeys;
  #prev: ChainHead = { seq: 0, hash: GENESIS_HASH };
  #rows = 0;
  #legacy = 0;
  #keyed = false;
  readonly #perKey: Record<string, number> = {};
  #bad: { seq: number; problem: string } | undefined;

  constructor(keys: AuditKeys) {
    this.#keys = keys;
  }

  /**
   * False once a row failed: nothing after it is checked. `problem`: what is wrong with the row
   * beyond its link and MAC, found by the caller (a segment row's lines, reader.ts).
   */
  add(row: AuditRow, problem: string | undefined = undefined): boolean {
    if (this.#bad) return false;
    const linkProblem = this.#check(row) ?? (problem === undefined ? undefined : { text: problem });
    if (linkProblem) {
      this.#bad = { seq: linkProblem.seq ?? row.seq, problem: linkProblem.text };
      return false;
    }
    this.#prev = { seq: row.seq, hash: row.hash };
    this.#rows += 1;
    if (row.key_id === null) this.#legacy += 1;
    else {
      this.#keyed = true;
      this.#perKey[row.key_id] = (this.#perKey[row.key_id] ?? 0) + 1;
    }
    return true;
  }

  get lastSeq(): number {
    return this.#prev.seq;
  }

  verdict(): ChainVerdict {
    return {
      ok: this.#bad === undefined,
      rows: this.#rows,
      head: this.#rows === 0 ? null : { ...this.#prev },
      keys: { ...this.#perKey },
      legacy_rows: this.#legacy,
      ...(this.#bad ? { first_bad: this.#bad } : {}),
    };
  }

  #check(row: AuditRow): { seq?: number; text: string } | undefined {
    const prev = this.#prev;
    if (row.seq !== prev.seq + 1) {
      const [from, to] = [prev.seq + 1, row.seq - 1];
      // The first missing row is the first bad one.
      return {
        seq: from,
        text: from === to ? `row ${from} is missing (deleted)` : `rows ${from}–${to} are missing (deleted)`,
      };
    }
    if (row.prev_hash !== prev.hash) return { text: 'prev_hash does not match the previous row (re-linked)' };
    const linked = { ...row, data: row.data_text };
    if (row.key_id === null) {
      if (this.#keyed)
        return {
          text: 'a row without an audit key after the keyed chain began (forged: written without the key)',
        };
      return sameHash(legacyLinkHash(prev.hash, linked), row.hash)
        ? undefined
        : { text: 'the content does not match its hash (edited)' };
    }
    const key = this.#keys.byId.get(row.key_id);
    if (!key)
      return {
        text: `MAC'd with audit key ${row.key_id}, which is not one of the keys given (a row from another key, or forged)`,
      };
    return sameHash(linkHash(key, prev.hash, linked), row.hash)
      ? undefined
      : { text: 'the content does not match its MAC (edited, or forged without the audit key)' };
  }
}

/**
 * Whether a stored row was MAC'd under one of our keys, linked to the prev_hash it stores (the
 * rows before it are the whole walk's business). Unkeyed rows never pass: anyone can make one.
 */
export function rowMacValid(keys: AuditKeys, row: AuditRow): boolean {
  const key = row.key_id === null ? undefined : keys.byId.get(row.key_id);
  return (
    key !== undefined && sameHash(linkHash(key, row.prev_hash, { ...row, data: row.data_text }), row.hash)
  );
}

/** Constant-time comparison of two hex digests. */
export function sameHash(expected: string, actual: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(actual);
  return a.length === b.length && timingSafeEqual(a, b);
}
