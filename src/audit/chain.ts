import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditRow, NewAuditRow } from '../db/index.ts';

/** The predecessor of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * A row's link in the chain: SHA-256 over the previous row's hash and the row's own content in
 * RFC 8785 canonical JSON (sorted keys, fixed number and string forms), so the hash does not
 * depend on how a database or driver orders JSON keys. Editing any field, deleting a row or
 * reordering rows changes every hash after it.
 */
export function linkHash(prevHash: string, row: NewAuditRow & { seq: number }): string {
  const content = canonicalize({
    seq: row.seq,
    occurred_at: row.occurred_at.toISOString(),
    type: row.type,
    actor: row.actor,
    subject: row.subject,
    client_id: row.client_id,
    ip: row.ip,
    data: row.data,
  });
  return createHash('sha256')
    .update(prevHash)
    .update(content ?? '')
    .digest('hex');
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
  if (linkHash(prev.hash, row) !== row.hash) return 'the content does not match its hash (edited)';
  return undefined;
}
