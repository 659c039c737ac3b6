import type { Kysely } from 'kysely';

/** Kysely's record of applied migrations (its Migrator creates and writes it). */
type MigrationTables = {
  kysely_migration: { name: string; timestamp: string };
};

export function migrationQueries(db: Kysely<unknown>) {
  return {
    /**
     * Names of the applied migrations. Fails when the table does not exist yet (a new database);
     * one small read, where Kysely's own check first introspects every table of the catalog.
     */
    // reads the whole table: one row per migration
    async appliedNames(): Promise<string[]> {
      const rows = await db
        .withTables<MigrationTables>()
        .selectFrom('kysely_migration')
        .select('name')
        .execute();
      return rows.map((row) => row.name);
    },
  };
}
