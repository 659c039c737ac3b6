import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrations } from '../../migrations/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { runTollgate } from '../helpers/cli.ts';
import { createPostgresDatabase } from '../helpers/database.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';

const ALL = Object.keys(migrations);

describe('tollgate migrate', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tollgate-migrate-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('applies every migration to a fresh embedded database, then none', async () => {
    // Where no template can be made (CACHE_DIR under a file), a new database is initdb's alone.
    const blocked = join(dataDir, 'not-a-directory');
    await writeFile(blocked, '');
    const env = { DATA_DIR: join(dataDir, 'blank'), CACHE_DIR: join(blocked, 'cache') };
    const first = await runTollgate(['migrate', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { applied: ALL });
    const second = await runTollgate(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /pglite is up to date; no migration applied/);
  });

  it('finds a fresh embedded database made from the template up to date', async () => {
    const run = await runTollgate(['migrate', '--json'], { DATA_DIR: join(dataDir, 'templated') });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { applied: [] });
  });

  it('exits 2 naming the variable when the configuration is invalid', async () => {
    const run = await runTollgate(['migrate'], {
      DATA_DIR: dataDir,
      DATABASE_URL: 'mysql://db.example/tollgate',
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^tollgate: invalid configuration: DATABASE_URL: must be a postgres:\/\/ URL/);
  });

  it('exits 1 saying the database could not be reached, without the password', async () => {
    const port = await freePort();
    const url = `postgres://tollgate:hunter2-secret@127.0.0.1:${port}/tollgate`;
    const run = await runTollgate(['migrate'], { DATA_DIR: dataDir, DATABASE_URL: url });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^tollgate: migrating PostgreSQL \(DATABASE_URL\) failed: .*ECONNREFUSED/);
    assert.equal(run.stderr.includes('hunter2'), false);
  });
});

describe('tollgate migrate on PostgreSQL', {
  skip: skipUnless('postgres'),
}, () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance();
  });
  after(() => tg?.close());

  it("finds the running instance's database up to date", async () => {
    const run = await runTollgate(['migrate', '--json'], { DATABASE_URL: tg.database.url ?? '' });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { applied: [] });
  });

  it('applies every migration to an empty PostgreSQL database', async () => {
    const empty = await createPostgresDatabase();
    try {
      const run = await runTollgate(['migrate'], { DATABASE_URL: empty.url });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        [
          `Applied ${ALL.length} migration(s) to PostgreSQL (DATABASE_URL):`,
          ...ALL.map((m) => `  ${m}`),
          '',
        ].join('\n'),
      );
    } finally {
      await empty.drop();
    }
  });
});
