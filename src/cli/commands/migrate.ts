import { basename } from 'node:path';
import { ConfigError, protectDataDir, restrictNewFileModes } from '../../common/index.ts';
import { type Config, loadConfig } from '../../config/index.ts';
import { DataDirLockedError, migrateToLatest, openDatabase } from '../../db/index.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';

const migrate: Command = {
  path: ['migrate'],
  synopsis: '',
  summary: 'bring the database schema to the latest migration (talks to the database, not the server)',
  details: [
    "Uses the server's own configuration: DATABASE_URL, else the embedded database in DATA_DIR.",
    'The embedded database admits one process: while the server runs, migrate refuses (exit 2).',
  ],
  async run(_invocation, ctx) {
    let config: Config;
    try {
      config = loadConfig(ctx.env);
    } catch (error) {
      // Same contract as the server: a configuration problem is the caller's to fix (exit 2).
      if (error instanceof ConfigError)
        throw usageError(`invalid configuration: ${error.problems.join('; ')}`);
      throw error;
    }
    const where = config.database.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : config.database.dataDir;
    let applied: string[];
    if (config.database.kind === 'pglite') {
      // Same protection as the server's (issue 9): the files migrate creates are owner-only.
      restrictNewFileModes();
      const name = basename(config.database.dataDir);
      protectDataDir(config.dataDir, [name, `${name}.lock`]);
    }
    try {
      const db = await openDatabase(config.database);
      try {
        applied = await migrateToLatest(db.db as never);
      } finally {
        await db.close();
      }
    } catch (error) {
      if (error instanceof DataDirLockedError) throw usageError(`cannot migrate: ${error.message}`);
      // pg's messages name host and database but never the password.
      throw failure(`migrating ${where} failed: ${describe(error)}`);
    }
    ctx.out.result({ applied }, () =>
      applied.length === 0
        ? `${where} is up to date; no migration applied.`
        : [`Applied ${applied.length} migration(s) to ${where}:`, ...applied.map((name) => `  ${name}`)],
    );
  },
};

// Connecting to `localhost` can fail on ::1 and 127.0.0.1 at once: an AggregateError, no message.
function describe(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || ((error as NodeJS.ErrnoException).code ?? error.name);
  return String(error);
}

export const migrateCommands: readonly Command[] = [migrate];
