import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { json } from '../json.ts';
import type { Database, UsersTable } from '../schema/index.ts';

export const USER_CHANNEL = 'tollgate_users';

export type UserRow = Selectable<UsersTable>;
export type NewUser = Pick<UserRow, 'id' | 'username' | 'password_hash' | 'roles' | 'attributes'>;

export function userQueries(db: Kysely<Database>) {
  /**
   * Issue 9: a user who is deleted or disabled loses every grant, session, code, refresh token
   * and opaque access token at once, and every instance learns of the change (NOTIFY now, the
   * change log by polling), all in the transaction that makes the change.
   */
  const recordChange = async (trx: Transaction<Database>, id: string, revokeGrants: boolean) => {
    if (revokeGrants) {
      // uses oidc_payloads_account_id_idx
      await trx.deleteFrom('oidc_payloads').where(sql<string>`payload->>'accountId'`, '=', id).execute();
    }
    await trx.insertInto('user_changes').values({ user_id: id }).execute();
    await sql`select pg_notify(${USER_CHANNEL}, ${id})`.execute(trx);
  };

  return {
    // uses users_pkey
    find(id: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },
    // uses users_username_key
    findByUsername(username: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    },
    list(): Promise<UserRow[]> {
      return db.selectFrom('users').selectAll().orderBy('created_at').execute();
    },
    async insert(user: NewUser): Promise<void> {
      await db
        .insertInto('users')
        .values({ ...user, roles: json(user.roles), attributes: json(user.attributes) })
        .execute();
    },
    async delete(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
        if (result.numDeletedRows === 0n) return false;
        await recordChange(trx, id, true);
        return true;
      });
    },
    /**
     * Disables or enables a user; undefined when there is none. Disabling also sets
     * `tokens_valid_after` to the database's clock, so access tokens issued until then stay
     * refused after a later enable.
     */
    async setDisabled(id: string, disabled: boolean): Promise<UserRow | undefined> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('users')
          .set(
            disabled
              ? { disabled, updated_at: sql`now()`, tokens_valid_after: sql`now()` }
              : { disabled, updated_at: sql`now()` },
          )
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
        if (row) await recordChange(trx, id, disabled);
        return row;
      });
    },
    /** Users changed after `after` (the database's clock), oldest first. */
    // uses user_changes_changed_at_idx
    changesAfter(after: Date): Promise<{ user_id: string; changed_at: Date }[]> {
      return db
        .selectFrom('user_changes')
        .select(['user_id', 'changed_at'])
        .where('changed_at', '>', after)
        .orderBy('changed_at')
        .limit(10_000)
        .execute();
    },
    /** The database's clock, so polling never depends on this process's clock. */
    async now(): Promise<Date> {
      const row = await sql<{ now: Date }>`select now() as now`.execute(db);
      return row.rows[0]?.now ?? new Date();
    },
    // uses user_changes_changed_at_idx
    async purgeChanges(before: Date): Promise<number> {
      const result = await db.deleteFrom('user_changes').where('changed_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
