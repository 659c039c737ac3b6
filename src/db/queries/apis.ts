import type { Kysely, Selectable } from 'kysely';
import { json } from '../json.ts';
import type { ApisTable, Database } from '../schema/index.ts';

export type ApiRow = Selectable<ApisTable>;
export type NewApi = Omit<ApiRow, 'created_at' | 'builtin' | 'scope_descriptions' | 'token_binding'> & {
  builtin?: boolean;
  token_binding?: ApiRow['token_binding'];
  scope_descriptions?: Record<string, string>;
};

export function apiQueries(db: Kysely<Database>) {
  return {
    // uses the unique index on apis.audience
    findByAudience(audience: string): Promise<ApiRow | undefined> {
      return db.selectFrom('apis').selectAll().where('audience', '=', audience).executeTakeFirst();
    },
    list(): Promise<ApiRow[]> {
      return db.selectFrom('apis').selectAll().orderBy('created_at').execute();
    },
    async insert(api: NewApi): Promise<void> {
      await db
        .insertInto('apis')
        .values({
          ...api,
          scopes: json(api.scopes),
          scope_descriptions: json(api.scope_descriptions ?? {}),
          builtin: api.builtin ?? false,
        })
        .execute();
    },
    async upsertBuiltin(api: NewApi): Promise<void> {
      await db
        .insertInto('apis')
        .values({
          ...api,
          scopes: json(api.scopes),
          scope_descriptions: json(api.scope_descriptions ?? {}),
          builtin: true,
        })
        .onConflict((oc) => oc.column('audience').doUpdateSet({ scopes: json(api.scopes) }))
        .execute();
    },
    async deleteByAudience(audience: string): Promise<boolean> {
      const result = await db
        .deleteFrom('apis')
        .where('audience', '=', audience)
        .where('builtin', '=', false)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
