import type { Kysely, Selectable } from 'kysely';
import { json } from '../json.ts';
import type { Database, SigningKeysTable } from '../schema/index.ts';

export type SigningKeyRow = Selectable<SigningKeysTable>;

export function signingKeyQueries(db: Kysely<Database>) {
  return {
    // the table holds a handful of rows per alg: a full read is the point
    list(): Promise<SigningKeyRow[]> {
      return db.selectFrom('signing_keys').selectAll().orderBy('activates_at', 'desc').execute();
    },
    /** When the newest key of each alg activates (a few rows per alg: no index needed). */
    async newestPerAlg(): Promise<{ alg: string; activatesAt: Date }[]> {
      const rows = await db
        .selectFrom('signing_keys')
        .select(['alg', (eb) => eb.fn.max('activates_at').as('activates_at')])
        .groupBy('alg')
        .execute();
      return rows.map((row) => ({ alg: row.alg, activatesAt: new Date(row.activates_at) }));
    },
    async insert(key: Omit<SigningKeyRow, 'created_at'>): Promise<void> {
      await db
        .insertInto('signing_keys')
        .values({ ...key, public_jwk: json(key.public_jwk) })
        .execute();
    },
    /**
     * Replaces a key's sealed private key, only if it is still `previous` (another instance may
     * have re-sealed it first). Returns whether this call replaced it.
     */
    async replaceSealed(kid: string, previous: string, sealed: string): Promise<boolean> {
      const result = await db
        .updateTable('signing_keys')
        .set({ private_jwk_encrypted: sealed })
        .where('kid', '=', kid)
        .where('private_jwk_encrypted', '=', previous)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
    /** Deletes keys that no token can still need (their successor has been signing long enough). */
    async deleteKids(kids: string[]): Promise<void> {
      if (kids.length === 0) return;
      await db.deleteFrom('signing_keys').where('kid', 'in', kids).execute();
    },
  };
}
