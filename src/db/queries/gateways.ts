import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, GatewaysTable } from '../schema/index.ts';

export const GATEWAY_CHANNEL = 'tollgate_gateways';

export type GatewayRow = Selectable<GatewaysTable> & {
  /** The APIs it protects, sorted; empty for a gateway created before they were required. */
  audiences: string[];
};

export function gatewayQueries(db: Kysely<Database>) {
  // Every instance keeps the credentials in memory and re-reads them on this (gateway/credentials.ts).
  const notify = (id: string) => sql`select pg_notify(${GATEWAY_CHANNEL}, ${id})`.execute(db);
  return {
    async list(): Promise<GatewayRow[]> {
      const [gateways, audiences] = await Promise.all([
        db.selectFrom('gateways').selectAll().orderBy('created_at').execute(),
        // uses gateway_audiences_pkey
        db.selectFrom('gateway_audiences').select(['gateway_id', 'audience']).orderBy('audience').execute(),
      ]);
      const byGateway = new Map<string, string[]>();
      for (const row of audiences) {
        const list = byGateway.get(row.gateway_id) ?? [];
        list.push(row.audience);
        byGateway.set(row.gateway_id, list);
      }
      return gateways.map((row) => ({ ...row, audiences: byGateway.get(row.id) ?? [] }));
    },
    /** One gateway with its APIs; undefined when there is none of that name. */
    async findByName(name: string): Promise<GatewayRow | undefined> {
      // uses the unique index on name
      const row = await db.selectFrom('gateways').selectAll().where('name', '=', name).executeTakeFirst();
      if (!row) return undefined;
      // uses gateway_audiences_pkey
      const audiences = await db
        .selectFrom('gateway_audiences')
        .select('audience')
        .where('gateway_id', '=', row.id)
        .orderBy('audience')
        .execute();
      return { ...row, audiences: audiences.map((a) => a.audience) };
    },
    /** Undefined when the name is taken (checked by the unique index, so no race). */
    async insert(gateway: {
      id: string;
      name: string;
      key_digest: string;
      client_certificates: boolean;
      audiences: readonly string[];
    }): Promise<GatewayRow | undefined> {
      const { audiences, ...columns } = gateway;
      const row = await db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('gateways')
          .values(columns)
          .onConflict((oc) => oc.column('name').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) {
          await trx
            .insertInto('gateway_audiences')
            .values(audiences.map((audience) => ({ gateway_id: gateway.id, audience })))
            .execute();
        }
        return inserted;
      });
      if (!row) return undefined;
      await notify(gateway.id);
      return { ...row, audiences: [...audiences].sort() };
    },
    /**
     * Replaces the APIs a gateway protects and, when given, whether it passes client
     * certificates; undefined when no gateway has that name.
     */
    async setAudiences(
      name: string,
      audiences: readonly string[],
      clientCertificates?: boolean,
    ): Promise<GatewayRow | undefined> {
      const row = await db.transaction().execute(async (trx) => {
        // uses gateways_name_key; the row lock serializes concurrent updates of one gateway
        let found = await trx
          .selectFrom('gateways')
          .selectAll()
          .where('name', '=', name)
          .forUpdate()
          .executeTakeFirst();
        if (!found) return undefined;
        if (clientCertificates !== undefined)
          found = await trx
            .updateTable('gateways')
            .set({ client_certificates: clientCertificates })
            .where('id', '=', found.id)
            .returningAll()
            .executeTakeFirstOrThrow();
        await trx.deleteFrom('gateway_audiences').where('gateway_id', '=', found.id).execute();
        await trx
          .insertInto('gateway_audiences')
          .values(audiences.map((audience) => ({ gateway_id: found.id, audience })))
          .execute();
        return found;
      });
      if (!row) return undefined;
      await notify(row.id);
      return { ...row, audiences: [...audiences].sort() };
    },
    // uses gateways_name_key; its audiences go with it (on delete cascade)
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
