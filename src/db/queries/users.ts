import type { Kysely, Selectable } from 'kysely';
import { json } from '../json.ts';
import type { Database, UsersTable } from '../schema/index.ts';

export type UserRow = Selectable<UsersTable>;
export type NewUser = Pick<UserRow, 'id' | 'username' | 'password_hash' | 'roles' | 'attributes'>;

export function userQueries(db: Kysely<Database>) {
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
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
