import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema/index.ts';

export const REVOCATION_CHANNEL = 'tollgate_revocation';

export function revokedTokenQueries(db: Kysely<Database>) {
  return {
    async add(entry: { jti: string; clientId: string; expiresAt: Date }): Promise<void> {
      await db
        .insertInto('revoked_tokens')
        .values({ jti: entry.jti, client_id: entry.clientId, expires_at: entry.expiresAt })
        .onConflict((oc) => oc.column('jti').doNothing())
        .execute();
      // Every instance's in-memory denylist listens for this (see oidc/revocation-list.ts).
      await sql`select pg_notify(${REVOCATION_CHANNEL}, ${entry.jti})`.execute(db);
    },
    // uses revoked_tokens_revoked_at_idx
    revokedSince(since: Date, now: Date): Promise<{ jti: string; expires_at: Date; revoked_at: Date }[]> {
      return db
        .selectFrom('revoked_tokens')
        .select(['jti', 'expires_at', 'revoked_at'])
        .where('revoked_at', '>=', since)
        .where('expires_at', '>', now)
        .execute();
    },
    // uses revoked_tokens_pkey
    async isRevoked(jti: string): Promise<boolean> {
      const row = await db
        .selectFrom('revoked_tokens')
        .select('jti')
        .where('jti', '=', jti)
        .executeTakeFirst();
      return row !== undefined;
    },
    // uses revoked_tokens_expires_at_idx
    async purgeExpired(now: Date): Promise<number> {
      const result = await db.deleteFrom('revoked_tokens').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
