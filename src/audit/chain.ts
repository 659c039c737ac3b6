import { hash } from 'node:crypto';
import type { AuditRow, NewAuditRow } from '../db/index.ts';

/** The predecessor of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * A row's link in the chain: SHA-256 over the previous row's hash and the row's own fields as
 * a JSON array (seq, time, type, actor, subject, client, address, and the data's JSON text
 * exactly as stored). An array has no key order to disagree about, and the data column keeps
 * its text verbatim, so the hash is recomputed from what is stored. Editing any field, deleting
 * a row or reordering rows changes every hash after it.
 */
export function linkHash(prevHash: string, row: NewAuditRow & { seq: number }): string {
  const content = JSON.stringify([
    row.seq,
    row.occurred_at.toISOString(),
    row.type,
    row.actor,
    row.subject,
    row.client_id,
    row.ip,
    row.data,
  ]);
  return hash('sha256', prevHash + content, 'hex');
}

export type ChainVerdict =
  | { ok: true; rows: number; lastSeq: number; lastHash: string }
  | { ok: false; rows: number; seq: number; problem: string };

/** Checks one stored row against its predecessor; undefined when it holds. */
export function checkLink(row: AuditRow, prev: { seq: number; hash: string }): string | undefined {
  if (row.seq !== prev.seq + 1) {
    const [from, to] = [prev.seq + 1, row.seq - 1];
    return from === to ? `row ${from} is missing (deleted)` : `rows ${from}–${to} are missing (deleted)`;
  }
  if (row.prev_hash !== prev.hash) return 'prev_hash does not match the previous row';
  if (linkHash(prev.hash, { ...row, data: row.data_text }) !== row.hash)
    return 'the content does not match its hash (edited)';
  return undefined;
}
