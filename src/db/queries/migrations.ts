import type { Kysely } from 'kysely';
import type { Database } from '../schema/index.ts';

/** Kysely's record of applied migrations (its Migrator creates and writes it; the default name). */
type MigrationTables = {
  kysely_migration: { name: string; timestamp: string };
};

export function migrationQueries(db: Kysely<Database>) {
  const tables = db.withTables<MigrationTables>();
  return {
    /**
     * Names of the applied migrations. Fails when the table does not exist yet (a new database);
     * one small read, where Kysely's own check first introspects every table of the catalog.
     */
    // reads the whole table: one row per migration
    async executedNames(): Promise<string[]> {
      const rows = await tables.selectFrom('kysely_migration').select('name').orderBy('name').execute();
      return rows.map((row) => row.name);
    },
  };
}
