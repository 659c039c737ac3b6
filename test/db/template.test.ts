import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  type DatabaseHandle,
  findTemplate,
  openDatabase,
  pendingMigrations,
  prepareTemplate,
  templateKey,
} from '../../src/db/index.ts';

const RACE = resolve(import.meta.dirname, 'template-race.ts');

/** PostgreSQL's identifier of a cluster, chosen by initdb: a copy keeps it, an initdb does not. */
async function systemIdentifier(handle: DatabaseHandle): Promise<string> {
  const { rows } = await sql<{
    id: string;
  }>`select system_identifier::text as id from pg_control_system()`.execute(handle.db);
  return rows[0].id;
}

/** Row counts of every table in the public schema but Kysely's own. */
async function rowCounts(handle: DatabaseHandle): Promise<Record<string, number>> {
  const { rows: tables } = await sql<{ name: string }>`
    select tablename as name from pg_tables
    where schemaname = 'public' and tablename not like 'kysely_migration%' order by 1`.execute(handle.db);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(name)}`.execute(
      handle.db,
    );
    counts[name] = rows[0].n;
  }
  return counts;
}

async function withDatabase<T>(
  dataDir: string,
  template: string | false,
  use: (handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const handle = await openDatabase({ kind: 'pglite', dataDir, template });
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

describe('the embedded database template', () => {
  let scratch: string;
  let cache: string;
  let templateId: string;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tollgate-template-'));
    cache = join(scratch, 'cache');
    const template = await prepareTemplate(cache);
    assert.equal(findTemplate(cache), template);
    // The template's own identity, read from a copy that is not the template itself.
    templateId = await withDatabase(join(scratch, 'probe'), cache, systemIdentifier);
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('gives a new data directory the whole schema and no row of any instance', async () => {
    const dataDir = join(scratch, 'fresh');
    // What a start that crashed while copying would have left.
    mkdirSync(`${dataDir}.999999.seed`, { recursive: true });
    await withDatabase(dataDir, cache, async (handle) => {
      assert.equal(
        await systemIdentifier(handle),
        templateId,
        'the data directory is a copy of the template',
      );
      assert.deepEqual(await pendingMigrations(handle.db), []);
      const counts = await rowCounts(handle);
      assert.ok(Object.keys(counts).includes('signing_keys') && Object.keys(counts).includes('audit_events'));
      // No signing key, admin client, audit row or policy: each instance makes its own.
      for (const [table, n] of Object.entries(counts)) assert.equal(n, 0, `${table} has ${n} rows`);
    });
    // Owner-only like every data directory, though the template itself is readable to all.
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, 'PG_VERSION')).mode & 0o777, 0o600);
    assert.equal(statSync(join(findTemplate(cache) as string, 'PG_VERSION')).mode & 0o777, 0o644);
    assert.deepEqual(
      readdirSync(scratch).filter((name) => name.includes('.seed')),
      [],
      'no copy is left beside the data directory',
    );
  });

  it('holds no instance data in the template directory either', () => {
    const dir = join(cache, `pglite-${templateKey()}`);
    assert.deepEqual(readdirSync(dir).sort(), ['pgdata', 'template.json']);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8'))).sort(), [
      'format',
      'key',
      'pglite',
    ]);
  });

  it('leaves a data directory that already holds a database alone', async () => {
    const dataDir = join(scratch, 'own');
    const own = await withDatabase(dataDir, false, systemIdentifier);
    assert.notEqual(own, templateId);
    assert.equal(await withDatabase(dataDir, cache, systemIdentifier), own);
  });

  it('never uses a template made for another PGlite or other migrations', async () => {
    const stale = join(scratch, 'stale-cache');
    const staleDir = join(stale, `pglite-${templateKey()}`);
    // A complete template, but stamped with another key (what an upgrade leaves behind).
    cpSync(join(cache, `pglite-${templateKey()}`), staleDir, { recursive: true });
    assert.ok(findTemplate(stale));
    const manifest = join(staleDir, 'template.json');
    const stamped = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifest, JSON.stringify({ ...stamped, key: '0000000000000000' }));
    assert.equal(findTemplate(stale), undefined);
    // Nor one without its stamp (an interrupted or foreign directory).
    const unstamped = join(scratch, 'unstamped-cache');
    cpSync(join(cache, `pglite-${templateKey()}`), join(unstamped, `pglite-${templateKey()}`), {
      recursive: true,
    });
    rmSync(join(unstamped, `pglite-${templateKey()}`, 'template.json'));
    assert.equal(findTemplate(unstamped), undefined);
    // A new data directory gets a template built afresh, which takes the unusable one's place.
    const id = await withDatabase(join(scratch, 'after-stale'), stale, systemIdentifier);
    assert.notEqual(id, templateId);
    assert.ok(findTemplate(stale));
    assert.deepEqual(readdirSync(stale), [`pglite-${templateKey()}`]);
  });

  it('refuses a template, or a cache, that other users could have written', () => {
    const dir = join(cache, `pglite-${templateKey()}`);
    const data = findTemplate(cache) as string;
    for (const path of [cache, dir, data]) {
      const mode = statSync(path).mode & 0o777;
      chmodSync(path, mode | 0o002);
      try {
        assert.equal(findTemplate(cache), undefined, `${path} writable by others`);
      } finally {
        chmodSync(path, mode);
      }
    }
    assert.equal(findTemplate(cache), data);
  });

  it('falls back to initdb when the cache cannot be written', async () => {
    const blocked = join(scratch, 'not-a-directory');
    writeFileSync(blocked, '');
    const dataDir = join(scratch, 'uncached');
    await withDatabase(dataDir, join(blocked, 'cache'), async (handle) => {
      assert.notEqual(await systemIdentifier(handle), templateId);
      // initdb only: the server migrates it, as before templates.
      assert.ok((await pendingMigrations(handle.db)).length > 0);
    });
  });

  it('is built by one of several racing processes, whole, with no debris', async () => {
    const raceCache = join(scratch, 'race-cache');
    const startAt = Date.now() + 1500;
    const runs = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
            execFile(process.execPath, [RACE, raceCache, String(startAt)], (error, stdout, stderr) =>
              done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
            );
          }),
      ),
    );
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const template = join(raceCache, `pglite-${templateKey()}`, 'pgdata');
    assert.deepEqual(
      runs.map((run) => run.stdout),
      [template, template, template],
    );
    assert.deepEqual(readdirSync(raceCache), [`pglite-${templateKey()}`], 'no temporary directory is left');
    // Every file from the same builder: no build overwrote part of another.
    const writers = new Set(readdirSync(template).map((name) => readFileSync(join(template, name), 'utf8')));
    assert.equal(writers.size, 1, `files from ${[...writers].join(', ')}`);
    assert.ok(existsSync(join(template, 'PG_VERSION')));
  });
});
