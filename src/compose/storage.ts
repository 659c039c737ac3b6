import { basename } from 'node:path';
import type { Logger } from 'pino';
import { ADMIN_CREDENTIALS_FILE } from '../admin/index.ts';
import { protectDataDir } from '../common/index.ts';
import { AUDIT_SEGMENT_DIR, type Config } from '../config/index.ts';
import {
  auditExposure,
  type DatabaseHandle,
  migrateToLatest,
  openDatabase,
  unknownMigrations,
} from '../db/index.ts';
import { DEV_KEY_FILE, resolveKeyEncryptionKey } from '../keys/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * DATA_DIR made owner-only, the key-encryption key, and the database brought to this code's
 * schema. `given`: a database the caller opened (tests), which the caller also closes.
 */
export async function openStorage(
  config: Config,
  given: { db?: DatabaseHandle | undefined; opening?: Promise<DatabaseHandle> | undefined },
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ kek: Buffer; db: DatabaseHandle }> {
  // DATA_DIR holds the database, the development key and admin.json: owner-only (issue 9), also
  // when an earlier version left it readable to every local user. The embedded database's own
  // directory is tightened by openDatabase once PGlite has opened it (it chmods new files 0666),
  // so it is not walked twice.
  const tightened = protectDataDir(config.dataDir, [
    ...(config.database.kind === 'pglite' ? [`${basename(config.database.dataDir)}.lock`] : []),
    ADMIN_CREDENTIALS_FILE,
    DEV_KEY_FILE,
    AUDIT_SEGMENT_DIR,
  ]);
  if (tightened > 0)
    logger.warn(
      { path: config.dataDir, entries: tightened },
      'DATA_DIR was readable by other users; its files are now 0600 and its directories 0700',
    );
  const kek = resolveKeyEncryptionKey(config.keyEncryptionKey, config.dataDir);
  if (kek.developmentKeyPath) {
    const warning =
      'KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with a DEVELOPMENT key stored next to the data. Set KEY_ENCRYPTION_KEY (openssl rand -base64 32) before any real use.';
    logger.warn({ path: kek.developmentKeyPath }, `!!! ${warning} !!!`);
    // A person at a terminal reads this, not a log line among others (whose JSON may be going
    // to a file or a collector): the warning, on lines of its own, where they look.
    if (process.stderr.isTTY)
      process.stderr.write(`\n  WARNING: ${warning}\n  (${kek.developmentKeyPath})\n\n`);
  }

  const db = given.db ?? (await openOwnDatabase(config, lifecycle, given.opening));
  const applied = await migrateToLatest(db.db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  const unknown = await unknownMigrations(db.db);
  if (unknown.length > 0)
    logger.warn(
      { migrations: unknown },
      `the database holds migrations this version does not know (${unknown.join(', ')}): a newer version has run against it, and this one may misread its schema`,
    );
  const exposure = await auditExposure(db);
  if (exposure) logger.warn(exposure.detail, exposure.message);
  if (config.migrationDatabaseUrl)
    logger.warn(
      'MIGRATION_DATABASE_URL is set, but only tollgate migrate uses it: keep the owner credentials out of the service',
    );
  return { kek: kek.key, db };
}

async function openOwnDatabase(
  config: Config,
  lifecycle: Lifecycle,
  opening: Promise<DatabaseHandle> | undefined,
): Promise<DatabaseHandle> {
  const db = await (opening ??
    openDatabase(
      config.database.kind === 'postgres'
        ? config.database
        : { kind: 'pglite', dataDir: config.database.dataDir, template: config.database.template },
    ));
  return lifecycle.started(db, 'database', () => db.close());
}
