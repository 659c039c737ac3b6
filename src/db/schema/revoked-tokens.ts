import type { Generated } from 'kysely';

/** Denylist of revoked JWT access tokens, kept until the token would have expired anyway. */
export interface RevokedTokensTable {
  jti: string;
  client_id: string;
  expires_at: Date;
  revoked_at: Generated<Date>;
}
