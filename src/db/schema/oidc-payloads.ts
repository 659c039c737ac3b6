import type { ColumnType } from 'kysely';

/** Everything oidc-provider persists (sessions, grants, codes, refresh tokens, interactions…). */
export interface OidcPayloadsTable {
  kind: string;
  id: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}
