import type { Kysely } from 'kysely';
import { type MigrationResultSet, Migrator } from 'kysely/migration';
import { migrations } from '../../migrations/index.ts';
import { migrationQueries } from './queries/migrations.ts';
import type { Database } from './schema/index.ts';

/**
 * The schema is behind and the connection's role may not bring it forward (SQLSTATE 42501):
 * the service connects as a role that owns nothing, so only the owner can migrate.
 */
export class SchemaBehindError extends Error {
  override name = 'SchemaBehindError';
  readonly pending: string[];

  constructor(pending: string[], connection: string, cause: unknown) {
    super(
      `the database schema is behind (pending migrations: ${pending.join(', ')}) and ${connection}'s role may not migrate it (${describe(cause)}): run \`tollgate migrate\` with MIGRATION_DATABASE_URL set to the owner role's connection first`,
      { cause },
    );
    this.pending = pending;
  }
}

export interface MigrateOptions {
  /** The variable naming the connection, for messages; DATABASE_URL by default. */
  connection?: string;
}

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

/** Names of the migrations not applied yet; only reads (it creates not even Kysely's tables). */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  // Every start asks; usually all are applied, which one read of Kysely's table shows. Kysely's
  // own answer costs a catalog introspection (a quarter of a second on the embedded database).
  const applied = await migrationQueries(db)
    .executedNames()
    .catch(() => undefined);
  if (applied && Object.keys(migrations).every((name) => applied.includes(name))) return [];
  const all = await migrator(db).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * Migrations the database records as executed that this code does not know: a newer version
 * has run against it, and this one may not understand its schema. Only reads.
 */
export async function unknownMigrations(db: Kysely<Database>): Promise<string[]> {
  // Kysely creates its table on the first migration: without it nothing has run.
  const executed = await migrationQueries(db)
    .executedNames()
    .catch(() => []);
  const known = new Set(Object.keys(migrations));
  return executed.filter((name) => !known.has(name));
}

/**
 * Brings the schema to the latest migration; safe to run from several instances at once. With
 * nothing pending the migrator does not run at all: a service role that only reads Kysely's
 * tables starts without taking its lock or creating anything. SchemaBehindError when migrations
 * are pending and the role lacks the privilege to apply them.
 */
export async function migrateToLatest(db: Kysely<Database>, options: MigrateOptions = {}): Promise<string[]> {
  const pending = await pendingMigrations(db);
  if (pending.length === 0) return [];
  const result: MigrationResultSet = await migrator(db).migrateToLatest();
  if (result.error) {
    if (sqlState(result.error) === '42501') {
      throw new SchemaBehindError(pending, options.connection ?? 'DATABASE_URL', result.error);
    }
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${String(result.error)}`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The SQLSTATE of a database error, looking through wrapping causes. */
function sqlState(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
