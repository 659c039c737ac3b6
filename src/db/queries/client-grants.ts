import { type Kysely, type Selectable, sql } from 'kysely';
import { json } from '../json.ts';
import type { ClientGrantsTable, Database } from '../schema/index.ts';

/** Every instance keeps the grants in memory and re-reads them on this (oidc/client-grants.ts). */
export const GRANT_CHANNEL = 'tollgate_client_grants';

export type ClientGrantRow = Selectable<ClientGrantsTable>;
export interface NewClientGrant {
  client_id: string;
  audience: string;
  scopes: string[];
  introspect: boolean;
}

export function clientGrantQueries(db: Kysely<Database>) {
  const notify = async (clientId: string) => {
    await sql`select pg_notify(${GRANT_CHANNEL}, ${clientId})`.execute(db);
  };
  return {
    notify,
    list(): Promise<ClientGrantRow[]> {
      return db.selectFrom('client_grants').selectAll().orderBy('client_id').orderBy('audience').execute();
    },
    // uses client_grants_pkey (client_id is its first column)
    listForClient(clientId: string): Promise<ClientGrantRow[]> {
      return db
        .selectFrom('client_grants')
        .selectAll()
        .where('client_id', '=', clientId)
        .orderBy('audience')
        .execute();
    },
    /** Grants or replaces one API's scopes. */
    async upsert(grant: NewClientGrant): Promise<void> {
      await db
        .insertInto('client_grants')
        .values({ ...grant, scopes: json(grant.scopes) })
        .onConflict((oc) =>
          oc
            .columns(['client_id', 'audience'])
            .doUpdateSet({ scopes: json(grant.scopes), introspect: grant.introspect }),
        )
        .execute();
      await notify(grant.client_id);
    },
    // uses client_grants_pkey
    async delete(clientId: string, audience: string): Promise<boolean> {
      const result = await db
        .deleteFrom('client_grants')
        .where('client_id', '=', clientId)
        .where('audience', '=', audience)
        .executeTakeFirst();
      await notify(clientId);
      return result.numDeletedRows > 0n;
    },
  };
}
