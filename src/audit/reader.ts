import { type AuditFilter, type AuditRow, auditEventQueries, type DatabaseHandle } from '../db/index.ts';
import type { AuditKeys } from './audit-keys.ts';
import { type ChainHead, type ChainVerdict, ChainWalk, sameHash } from './chain.ts';

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
}

const PAGE = 1000;

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
  options: { expectHead?: ChainHead } = {},
): Promise<ChainVerdict> {
  const queries = auditEventQueries(db.db);
  const walk = new ChainWalk(keys);
  let expected: string | undefined;
  const { expectHead } = options;
  for (;;) {
    const page = await queries.page(walk.lastSeq, PAGE);
    for (const row of page) {
      if (row.seq === expectHead?.seq) expected = row.hash;
      if (!walk.add(row)) return walk.verdict();
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

export async function queryAudit(db: DatabaseHandle, filter: AuditFilter): Promise<AuditRecord[]> {
  return (await auditEventQueries(db.db).query(filter)).map(toRecord);
}

/** Every matching event in chain order, a page at a time (for JSON-lines exports). */
export async function* exportAudit(
  db: DatabaseHandle,
  filter: Omit<AuditFilter, 'limit' | 'after'>,
): AsyncGenerator<AuditRecord> {
  let after = 0;
  for (;;) {
    const page = await auditEventQueries(db.db).query({ ...filter, after, limit: PAGE });
    for (const row of page) yield toRecord(row);
    if (page.length < PAGE) return;
    after = page[page.length - 1]?.seq ?? after;
  }
}
