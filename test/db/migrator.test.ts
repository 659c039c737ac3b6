import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrations } from '../../migrations/index.ts';
import {
  type DatabaseHandle,
  grantServiceRole,
  migrateToLatest,
  openDatabase,
  pendingMigrations,
  SchemaBehindError,
  unknownMigrations,
} from '../../src/db/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { startTestInstance } from '../helpers/instance.ts';
import { freePort } from '../helpers/net.ts';
import { asSuperuser, createDeployment, type Deployment } from '../helpers/roles.ts';

const ALL = Object.keys(migrations);
const NEWEST = ALL.at(-1)!;
const MAIN = resolve(import.meta.dirname, '../../src/main.ts');

/** `node src/main.ts` with only `env` (plus PATH) in an empty directory, until it exits. */
async function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const cwd = await mkdtemp(join(tmpdir(), 'tollgate-migrator-'));
  try {
    return await new Promise((done) => {
      execFile(
        process.execPath,
        [MAIN],
        { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
        (error, _stdout, stderr) => {
          done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr });
        },
      );
    });
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

describe('migrating with a service role that owns nothing', {
  skip: skipUnless('postgres'),
}, () => {
  let deployment: Deployment;
  let service: DatabaseHandle;
  before(async () => {
    deployment = await createDeployment();
    const owner = await openDatabase({ kind: 'postgres', url: deployment.ownerUrl });
    try {
      await migrateToLatest(owner.db);
      await grantServiceRole(owner.db, deployment.service);
      assert.deepEqual(await pendingMigrations(owner.db), []);
    } finally {
      await owner.close();
    }
    service = await openDatabase({ kind: 'postgres', url: deployment.serviceUrl });
  });
  after(async () => {
    await service?.close();
    await deployment?.drop();
  });

  it('does not run the migrator when nothing is pending', async () => {
    // Without its lock row, Kysely's migrator would insert one, which the service may not do:
    // this passes only if the migrator never runs.
    await asSuperuser('delete from kysely_migration_lock', [], deployment.database);
    assert.deepEqual(await migrateToLatest(service.db), []);
  });

  it('names the pending migrations and the way out when the schema is behind', async () => {
    const [newest] = await asSuperuser<{ name: string; timestamp: string }>(
      'delete from kysely_migration where name = $1 returning name, timestamp',
      [NEWEST],
      deployment.database,
    );
    try {
      assert.deepEqual(await pendingMigrations(service.db), [NEWEST]);
      await assert.rejects(migrateToLatest(service.db), (error: unknown) => {
        assert.ok(error instanceof SchemaBehindError, String(error));
        assert.deepEqual(error.pending, [NEWEST]);
        assert.match(error.message, new RegExp(`pending migrations: ${NEWEST}\\) and DATABASE_URL's role`));
        assert.match(error.message, /run `tollgate migrate` with MIGRATION_DATABASE_URL/);
        return true;
      });
    } finally {
      await asSuperuser(
        'insert into kysely_migration (name, timestamp) values ($1, $2)',
        [newest!.name, newest!.timestamp],
        deployment.database,
      );
    }
  });

  it('a server started on an unmigrated database as the service role exits 2 saying what to run', async () => {
    const fresh = await deployment.createDatabase();
    const { code, stderr } = await runMain({
      DATABASE_URL: fresh.serviceUrl,
      PORT: String(await freePort()),
    });
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^tollgate: failed to start: the database schema is behind \\(pending migrations: ${ALL.join(', ')}\\)`,
      ),
    );
    assert.match(stderr, /permission denied for schema public/);
    assert.match(stderr, /run `tollgate migrate` with MIGRATION_DATABASE_URL set to the owner/);
    assert.ok(!stderr.includes(deployment.servicePassword), 'the password appears in the message');
  });
});

describe('a database a newer version has migrated', () => {
  const FUTURE = ['9001_from_a_newer_version', '9002_also_newer'];

  it('names the migrations this code does not know, and the server warns of them at start', async () => {
    const database = await openTestDatabase();
    const migrationRows = database.handle.db.withTables<{
      kysely_migration: { name: string; timestamp: string };
    }>();
    assert.deepEqual(await unknownMigrations(database.handle.db), []);
    await migrationRows
      .insertInto('kysely_migration')
      .values(FUTURE.map((name) => ({ name, timestamp: new Date().toISOString() })))
      .execute();
    assert.deepEqual(await unknownMigrations(database.handle.db), FUTURE);
    assert.deepEqual(await pendingMigrations(database.handle.db), [], 'nothing of ours is pending');

    const tg = await startTestInstance({}, { database });
    try {
      const warning = tg.logs
        .map((line) => JSON.parse(line) as { level: number; msg: string; migrations?: string[] })
        .find((entry) => entry.migrations !== undefined && entry.level === 40);
      assert.deepEqual(warning?.migrations, FUTURE);
      assert.match(warning?.msg ?? '', /9001_from_a_newer_version, 9002_also_newer/);
      assert.match(warning?.msg ?? '', /a newer version has run against it/);
    } finally {
      await tg.close();
    }
  });

  it('finds none on a database no migration has touched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-empty-'));
    const empty = await openDatabase({ kind: 'pglite', dataDir: dir });
    try {
      assert.deepEqual(await unknownMigrations(empty.db), []);
    } finally {
      await empty.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
