import type { ColumnType } from 'kysely';

/** One audit event, chained to its predecessor: hash = HMAC(audit key, prev_hash ‖ its content). */
export interface AuditEventsTable {
  seq: number;
  occurred_at: Date;
  type: string;
  actor: string | null;
  subject: string | null;
  client_id: string | null;
  ip: string | null;
  /** JSON kept verbatim (type json): written as text, read back parsed. */
  data: ColumnType<Record<string, unknown>, string, never>;
  prev_hash: string;
  hash: string;
  /** The audit key that MACs this row (its id, a digest); NULL: plain SHA-256, written before keys. */
  key_id: string | null;
}
