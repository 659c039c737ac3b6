import type { ColumnType, Generated } from 'kysely';

/**
 * What a client may get tokens for (issue 9): one row per (client, API), the API's scopes it was
 * granted, and whether it may introspect tokens issued for that API (RFC 7662 §4).
 */
export interface ClientGrantsTable {
  client_id: string;
  audience: string;
  scopes: ColumnType<string[], string, string>;
  introspect: Generated<boolean>;
  created_at: Generated<Date>;
}
