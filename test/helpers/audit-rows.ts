import { type Kysely, sql } from 'kysely';
import { legacyLinkHash } from '../../src/audit/index.ts';
import type { AuditRow, Database } from '../../src/db/index.ts';

/** The unkeyed link every row had before issue 10: anyone can compute it. */
export function sha256Link(prev: string, row: StoredRow): string {
  return legacyLinkHash(prev, { ...row, data: row.data_text });
}

/** An audit row as stored, with its data as the exact JSON text the chain covers. */
export type StoredRow = Omit<AuditRow, 'data'>;

/** The INSERT a forger (or a test writing rows of an earlier version) runs. */
export function insertRow(row: StoredRow) {
  return sql`insert into audit_events (seq, occurred_at, type, actor, subject, client_id, ip, data, prev_hash, hash, key_id)
    values (${row.seq}, ${row.occurred_at}, ${row.type}, ${row.actor}, ${row.subject}, ${row.client_id}, ${row.ip},
            ${row.data_text}::json, ${row.prev_hash}, ${row.hash}, ${row.key_id})`;
}

/** Empties the audit table (the test owns it: only the owner may switch its trigger off). */
export async function emptyAuditTable(db: Kysely<Database>): Promise<void> {
  await sql`alter table audit_events disable trigger audit_events_no_truncate`.execute(db);
  await sql`truncate audit_events`.execute(db);
  await sql`alter table audit_events enable trigger audit_events_no_truncate`.execute(db);
}
