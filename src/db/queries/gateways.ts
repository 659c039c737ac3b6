import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, GatewaysTable } from '../schema/index.ts';

export const GATEWAY_CHANNEL = 'tollgate_gateways';

export type GatewayRow = Selectable<GatewaysTable>;

export function gatewayQueries(db: Kysely<Database>) {
  // Every instance keeps the credentials in memory and re-reads them on this (gateway/credentials.ts).
  const notify = (id: string) => sql`select pg_notify(${GATEWAY_CHANNEL}, ${id})`.execute(db);
  return {
    list(): Promise<GatewayRow[]> {
      return db.selectFrom('gateways').selectAll().orderBy('created_at').execute();
    },
    /** Undefined when the name is taken (checked by the unique index, so no race). */
    async insert(gateway: { id: string; name: string; key_digest: string }): Promise<GatewayRow | undefined> {
      const row = await db
        .insertInto('gateways')
        .values(gateway)
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) await notify(gateway.id);
      return row;
    },
    // uses gateways_name_key
    async deleteByName(name: string): Promise<boolean> {
      const deleted = await db
        .deleteFrom('gateways')
        .where('name', '=', name)
        .returning('id')
        .executeTakeFirst();
      if (deleted) await notify(deleted.id);
      return deleted !== undefined;
    },
  };
}
