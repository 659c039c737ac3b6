import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../src/db/index.ts';

/**
 * Tests run on the embedded PGlite by default, and on PostgreSQL when TOLLGATE_TEST_DATABASE_URL
 * points at a server (a database the test user may create databases from). Every test file gets
 * its own database, so tests never share rows.
 */
export const TEST_DATABASE_URL = process.env.TOLLGATE_TEST_DATABASE_URL;
export const ENGINE = TEST_DATABASE_URL ? 'postgres' : 'pglite';

const root = resolve(import.meta.dirname, '../..');

/** The PGlite template: created once (5–6 s), then copied per test (a fraction of a second). */
export function pgliteTemplateDir(): string {
  const migrationsDir = join(root, 'migrations');
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsDir).sort())
    hash.update(file).update(readFileSync(join(migrationsDir, file)));
  return join(root, '.tollgate-test', `pglite-${hash.digest('hex').slice(0, 12)}`);
}

export async function preparePgliteTemplate(): Promise<void> {
  const dir = pgliteTemplateDir();
  if (existsSync(dir)) return;
  const building = `${dir}.${process.pid}`;
  mkdirSync(building, { recursive: true });
  // A copy of the server's template when there is one (global-setup.ts sets CACHE_DIR).
  const handle = await openDatabase({ kind: 'pglite', dataDir: building, template: process.env.CACHE_DIR });
  await migrateToLatest(handle.db);
  await handle.close();
  renameSync(building, dir);
}

export interface TestDatabase {
  handle: DatabaseHandle;
  /** For PostgreSQL, the URL of this test's own database (other instances may share it). */
  url?: string;
  drop(): Promise<void>;
}

/** A new, empty PostgreSQL database on the test server; `drop` removes it whatever holds it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TOLLGATE_TEST_DATABASE_URL is not set');
  const serverUrl = TEST_DATABASE_URL;
  const name = `tollgate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

export async function openTestDatabase(): Promise<TestDatabase> {
  if (TEST_DATABASE_URL) {
    const created = await createPostgresDatabase();
    const handle = await openDatabase({ kind: 'postgres', url: created.url });
    await migrateToLatest(handle.db);
    return {
      handle,
      url: created.url,
      async drop() {
        await handle.close().catch(() => {});
        await created.drop();
      },
    };
  }
  return openPgliteTestDatabase();
}

/** A copy of the prepared PGlite database, whichever engine the run tests (embedded-only tests). */
export async function openPgliteTestDatabase(): Promise<TestDatabase> {
  await preparePgliteTemplate();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pglite-'));
  cpSync(pgliteTemplateDir(), dir, { recursive: true });
  const handle = await openDatabase({ kind: 'pglite', dataDir: dir });
  return {
    handle,
    async drop() {
      await handle.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Another connection pool on a test's PostgreSQL database; dropping it only closes the pool. */
export async function joinTestDatabase(database: TestDatabase): Promise<TestDatabase> {
  if (!database.url) throw new Error('only a PostgreSQL test database can be shared between instances');
  const handle = await openDatabase({ kind: 'postgres', url: database.url });
  return { handle, url: database.url, drop: () => handle.close() };
}

/**
 * A database of the test engine for the enclosing suite: opened before its tests, dropped after
 * them; `opened` receives it.
 */
export function suiteDatabase(opened: (database: TestDatabase) => void): void {
  let database: TestDatabase | undefined;
  before(async () => {
    database = await openTestDatabase();
    opened(database);
  });
  after(() => database?.drop());
}
