import { type AuditFilter, type AuditRow, auditEventQueries, type DatabaseHandle } from '../db/index.ts';
import { type ChainVerdict, checkLink, GENESIS_HASH } from './chain.ts';

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
  };
}

/**
 * Walks the whole chain in order and stops at the first row that does not hold: a gap in seq
 * (deleted rows), a prev_hash that is not its predecessor's hash, or content that does not
 * hash to the stored value (edited).
 */
export async function verifyAuditChain(db: DatabaseHandle): Promise<ChainVerdict> {
  const queries = auditEventQueries(db.db);
  let prev = { seq: 0, hash: GENESIS_HASH };
  let rows = 0;
  for (;;) {
    const page = await queries.page(prev.seq, PAGE);
    for (const row of page) {
      const problem = checkLink(row, prev);
      if (problem) return { ok: false, rows, seq: row.seq, problem };
      prev = { seq: row.seq, hash: row.hash };
      rows += 1;
    }
    if (page.length < PAGE) return { ok: true, rows, lastSeq: prev.seq, lastHash: prev.hash };
  }
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
