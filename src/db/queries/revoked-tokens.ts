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
    /**
     * Unexpired revocations recorded at or after `since` (all of them without it), and the
     * database's clock when read: the caller's next `since`. Every comparison uses the
     * database's clock, which set `revoked_at`, never the caller's (issue 9: an instance whose
     * clock ran ahead missed other instances' revocations).
     */
    // uses revoked_tokens_revoked_at_idx
    async revokedSince(
      since: Date | undefined,
    ): Promise<{ now: Date; rows: { jti: string; expires_at: Date; revoked_at: Date }[] }> {
      // Read the clock first: a row committed after it and stamped before it is covered by
      // the caller's margin on `since`.
      const { rows: clock } = await sql<{ now: Date }>`select now() as now`.execute(db);
      let query = db
        .selectFrom('revoked_tokens')
        .select(['jti', 'expires_at', 'revoked_at'])
        .where('expires_at', '>', sql<Date>`now()`);
      if (since !== undefined) query = query.where('revoked_at', '>=', since);
      return { now: new Date(clock[0]!.now), rows: await query.execute() };
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
    /** Deletes entries expired at `now`, by default the database's clock (see revokedSince). */
    // uses revoked_tokens_expires_at_idx
    async purgeExpired(now?: Date): Promise<number> {
      const result = await db
        .deleteFrom('revoked_tokens')
        .where('expires_at', '<', now ?? sql<Date>`now()`)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
