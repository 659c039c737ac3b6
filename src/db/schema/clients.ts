import type { ColumnType, Generated } from 'kysely';

/**
 * OAuth clients. The secret is stored only as a digest; `metadata` is RFC 7591 client metadata.
 * What a client may get tokens for is in `client_grants`.
 */
export interface ClientsTable {
  client_id: string;
  name: string;
  secret_digest: string | null;
  metadata: ColumnType<Record<string, unknown>, string, string>;
  roles: ColumnType<string[], string | undefined, string>;
  created_at: Generated<Date>;
}
