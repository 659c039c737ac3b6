import type { Kysely } from 'kysely';
import type { Database } from '../schema/index.ts';

/** Kysely's bookkeeping table as its Migrator writes it (the default name). */
type MigrationTables = {
  kysely_migration: { name: string; timestamp: string };
};

export function migrationQueries(db: Kysely<Database>) {
  const tables = db.withTables<MigrationTables>();
  return {
    /** Every migration recorded as executed; the caller knows the table exists. */
    async executedNames(): Promise<string[]> {
      const rows = await tables.selectFrom('kysely_migration').select('name').orderBy('name').execute();
      return rows.map((row) => row.name);
    },
  };
}
