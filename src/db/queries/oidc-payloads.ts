import { type Kysely, sql } from 'kysely';
import { json } from '../json.ts';
import type { Database } from '../schema/index.ts';

export interface StoredPayload {
  payload: Record<string, unknown>;
  consumed: boolean;
}

/** What one attempt to consume a one-time row found. */
export interface Consumption {
  /** True for the one caller whose statement flipped `consumed_at`; false for every other. */
  won: boolean;
  /** The grant the row belongs to, when the row still exists. */
  grantId: string | null;
}

export interface PayloadWrite {
  kind: string;
  id: string;
  payload: Record<string, unknown>;
  expiresAt: Date | null;
}

export function oidcPayloadQueries(db: Kysely<Database>) {
  const live = (now: Date) =>
    db
      .selectFrom('oidc_payloads')
      .select(['payload', 'consumed_at'])
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));

  const toStored = (row: { payload: Record<string, unknown>; consumed_at: Date | null } | undefined) =>
    row ? { payload: row.payload, consumed: row.consumed_at !== null } : undefined;

  return {
    async upsert(write: PayloadWrite): Promise<void> {
      const p = write.payload;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      const values = {
        kind: write.kind,
        id: write.id,
        payload: json(p),
        grant_id: str(p.grantId),
        uid: str(p.uid),
        user_code: str(p.userCode),
        expires_at: write.expiresAt,
      };
      await db
        .insertInto('oidc_payloads')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['kind', 'id']).doUpdateSet({
            payload: values.payload,
            grant_id: values.grant_id,
            uid: values.uid,
            user_code: values.user_code,
            expires_at: values.expires_at,
          }),
        )
        .execute();
    },
    // uses oidc_payloads_pkey
    async find(kind: string, id: string, now: Date): Promise<StoredPayload | undefined> {
      return toStored(await live(now).where('kind', '=', kind).where('id', '=', id).executeTakeFirst());
    },
    // uses oidc_payloads_uid_idx
    async findByUid(kind: string, uid: string, now: Date): Promise<StoredPayload | undefined> {
      return toStored(await live(now).where('kind', '=', kind).where('uid', '=', uid).executeTakeFirst());
    },
    // uses oidc_payloads_user_code_idx
    async findByUserCode(kind: string, userCode: string, now: Date): Promise<StoredPayload | undefined> {
      return toStored(
        await live(now).where('kind', '=', kind).where('user_code', '=', userCode).executeTakeFirst(),
      );
    },
    /**
     * Issue 9 §4: one statement decides who consumes a code or refresh token. PostgreSQL takes
     * the row lock for the UPDATE and re-checks `consumed_at IS NULL` once a concurrent winner
     * commits, so of N concurrent callers exactly one gets the row back. uses oidc_payloads_pkey
     */
    async consume(kind: string, id: string): Promise<Consumption> {
      const won = await db
        .updateTable('oidc_payloads')
        .set({ consumed_at: sql<Date>`now()` })
        .where('kind', '=', kind)
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .returning('grant_id')
        .executeTakeFirst();
      if (won) return { won: true, grantId: won.grant_id };
      const lost = await db
        .selectFrom('oidc_payloads')
        .select('grant_id')
        .where('kind', '=', kind)
        .where('id', '=', id)
        .executeTakeFirst();
      return { won: false, grantId: lost?.grant_id ?? null };
    },
    async destroy(kind: string, id: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('kind', '=', kind).where('id', '=', id).execute();
    },
    // uses oidc_payloads_grant_id_idx
    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
    },
    /**
     * Revokes a whole grant in one statement: every row issued under it and the Grant row itself,
     * which every later use of the grant (refresh, introspection, userinfo) must find.
     * uses oidc_payloads_grant_id_idx and oidc_payloads_pkey
     */
    async revokeGrant(grantId: string): Promise<void> {
      await db
        .deleteFrom('oidc_payloads')
        .where((eb) =>
          eb.or([eb('grant_id', '=', grantId), eb.and([eb('kind', '=', 'Grant'), eb('id', '=', grantId)])]),
        )
        .execute();
    },
    // uses oidc_payloads_expires_at_idx
    async purgeExpired(now: Date): Promise<number> {
      const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
