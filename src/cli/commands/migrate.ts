import { basename } from 'node:path';
import type { Config } from '../../config/index.ts';
import type { ServiceRoleReport } from '../../db/index.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';

/**
 * The only variables migrate reads: it needs neither the key-encryption key (which the server
 * demands in production) nor anything else, and a migration container is not given them.
 */
const MIGRATE_VARIABLES = ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'DATA_DIR', 'CACHE_DIR'] as const;

const migrate: Command = {
  path: ['migrate'],
  synopsis: '',
  summary: 'bring the database schema to the latest migration (talks to the database, not the server)',
  details: [
    "Uses the server's own configuration: DATABASE_URL, else the embedded database in DATA_DIR.",
    "With MIGRATION_DATABASE_URL (the tables' owner), migrates through it, then grants the service",
    "role (DATABASE_URL's user) exactly what the server needs: SELECT and INSERT only on audit_events.",
    'Refuses (exit 2) a service role that is a superuser or owns a table: it could rewrite the audit log.',
    'The embedded database admits one process: while the server runs, migrate refuses (exit 2).',
  ],
  async run(_invocation, ctx) {
    // Loaded when migrate runs, not on every `tollgate` call: the database drivers are heavy.
    const [{ ConfigError, protectDataDir, restrictNewFileModes }, { loadConfig }, db] = await Promise.all([
      import('../../common/index.ts'),
      import('../../config/index.ts'),
      import('../../db/index.ts'),
    ]);
    const {
      DataDirLockedError,
      grantServiceRole,
      migrateToLatest,
      openDatabase,
      SchemaBehindError,
      ServiceRoleRefusedError,
      userOf,
    } = db;
    let config: Config;
    try {
      config = loadConfig(Object.fromEntries(MIGRATE_VARIABLES.map((name) => [name, ctx.env[name]])));
    } catch (error) {
      // Same contract as the server: a configuration problem is the caller's to fix (exit 2).
      if (error instanceof ConfigError)
        throw usageError(`invalid configuration: ${error.problems.join('; ')}`);
      throw error;
    }
    const ownerUrl = config.migrationDatabaseUrl;
    const serviceRole =
      ownerUrl && config.database.kind === 'postgres' ? userOf(config.database.url) : undefined;
    if (ownerUrl && !serviceRole) {
      throw usageError(
        'DATABASE_URL names no user: with MIGRATION_DATABASE_URL, it must name the service role to grant to',
      );
    }
    const connection = ownerUrl ? 'MIGRATION_DATABASE_URL' : 'DATABASE_URL';
    const where =
      config.database.kind === 'postgres' ? `PostgreSQL (${connection})` : config.database.dataDir;
    if (config.database.kind === 'pglite') {
      // Same protection as the server's (issue 9): the files migrate creates are owner-only.
      restrictNewFileModes();
      const name = basename(config.database.dataDir);
      protectDataDir(config.dataDir, [name, `${name}.lock`]);
    }
    let applied: string[];
    let grants: ServiceRoleReport | undefined;
    try {
      const handle = await openDatabase(ownerUrl ? { kind: 'postgres', url: ownerUrl } : config.database);
      try {
        applied = await migrateToLatest(handle.db, { connection });
        if (serviceRole) grants = await grantServiceRole(handle.db, serviceRole);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof DataDirLockedError) throw usageError(`cannot migrate: ${error.message}`);
      if (error instanceof ServiceRoleRefusedError)
        throw usageError(`schema migrated, but no privilege granted: ${error.message}`);
      if (error instanceof SchemaBehindError) throw failure(error.message);
      // pg's messages name host and database but never the password.
      throw failure(`migrating ${where} failed: ${describe(error)}`);
    }
    ctx.out.result(grants ? { applied, grants } : { applied }, () => [
      ...(applied.length === 0
        ? [`${where} is up to date; no migration applied.`]
        : [`Applied ${applied.length} migration(s) to ${where}:`, ...applied.map((name) => `  ${name}`)]),
      ...(grants ? describeGrants(grants) : []),
    ]);
  },
};

function describeGrants(grants: ServiceRoleReport): string[] {
  const list = (names: string[]) => (names.length > 0 ? names.join(', ') : '-');
  return [
    `Service role ${grants.role}, schema ${grants.schema} (usage):`,
    `  select, insert, update, delete: ${list(grants.readWrite)}`,
    `  select, insert only:            ${list(grants.appendOnly)}`,
    `  select only:                    ${list(grants.readOnly)}`,
    `  sequences (usage, select):      ${list(grants.sequences)}`,
    grants.changed.length === 0
      ? 'Privileges were already exactly these; nothing changed.'
      : `Privileges changed on: ${grants.changed.join(', ')}.`,
  ];
}

// Connecting to `localhost` can fail on ::1 and 127.0.0.1 at once: an AggregateError, no message.
function describe(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || ((error as NodeJS.ErrnoException).code ?? error.name);
  return String(error);
}

export const migrateCommands: readonly Command[] = [migrate];
