import type { Kysely, Selectable } from 'kysely';
import { json } from '../json.ts';
import type { ClientsTable, Database } from '../schema/index.ts';

export type ClientRow = Selectable<ClientsTable>;
export type NewClient = Omit<ClientRow, 'created_at'>;

export function clientQueries(db: Kysely<Database>) {
  return {
    // uses clients_pkey
    find(clientId: string): Promise<ClientRow | undefined> {
      return db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    },
    list(): Promise<ClientRow[]> {
      return db.selectFrom('clients').selectAll().orderBy('created_at').execute();
    },
    async count(): Promise<number> {
      const row = await db
        .selectFrom('clients')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async insert(client: NewClient): Promise<void> {
      await db
        .insertInto('clients')
        .values({ ...client, metadata: json(client.metadata), roles: json(client.roles) })
        .execute();
    },
    async delete(clientId: string): Promise<boolean> {
      const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
