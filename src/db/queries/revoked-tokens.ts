import type { Kysely } from 'kysely';
import type { Database } from '../schema/index.ts';

export function revokedTokenQueries(db: Kysely<Database>) {
  return {
    async add(entry: { jti: string; clientId: string; expiresAt: Date }): Promise<void> {
      await db
        .insertInto('revoked_tokens')
        .values({ jti: entry.jti, client_id: entry.clientId, expires_at: entry.expiresAt })
        .onConflict((oc) => oc.column('jti').doNothing())
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
