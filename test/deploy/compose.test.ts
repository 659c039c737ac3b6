import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(resolve(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const { postgres, migrate, tollgate } = compose.services;
const initRoles = read('deploy/postgres/init-roles.sh');
/** The roles init-roles.sh creates unless told otherwise. */
const defaultOf = (variable: string) =>
  new RegExp(`\\$\\{${variable}:-([a-z_]+)\\}`).exec(initRoles)?.[1] ??
  assert.fail(`no default for ${variable}`);
const OWNER = defaultOf('TOLLGATE_OWNER_ROLE');
const SERVICE = defaultOf('TOLLGATE_SERVICE_ROLE');
const DATABASE = defaultOf('TOLLGATE_DB');

/** The user and database of a postgres:// URL with ${…} in it. */
function urlParts(url: string | undefined): { user: string; password: string; database: string } {
  const match = /^postgres:\/\/([^:@]+):(\$\{[^}]+\})@postgres:5432\/(\w+)$/.exec(url ?? '');
  assert.ok(match, `not a postgres URL with a password from the environment: ${url}`);
  return { user: match[1]!, password: match[2]!, database: match[3]! };
}

describe('docker-compose.yml', () => {
  it('has the three services and the init script mounted read-only into postgres', () => {
    assert.ok(postgres && migrate && tollgate, 'postgres, migrate and tollgate services');
    assert.ok(
      postgres.volumes?.includes(
        './deploy/postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-tollgate-roles.sh:ro',
      ),
      `volumes: ${postgres.volumes}`,
    );
    // The image runs an executable script; one that is not is sourced into its entrypoint.
    assert.ok(
      statSync(resolve(root, 'deploy/postgres/init-roles.sh')).mode & 0o100,
      'init-roles.sh is executable',
    );
    assert.equal(postgres.environment?.POSTGRES_USER, undefined, 'the superuser keeps its default name');
    assert.equal(postgres.environment?.POSTGRES_DB, undefined, 'the init script creates the database');
    // Over TCP: during initialisation only the socket answers, so healthy means initialised.
    assert.match(postgres.healthcheck?.test?.join(' ') ?? '', /pg_isready -h 127\.0\.0\.1 .*-d tollgate/);
  });

  it('takes every secret from the environment (.env), refusing to start while one is missing', () => {
    const text = read('docker-compose.yml');
    const references = [...text.matchAll(/\$\{([A-Z_]+)([^}]*)\}/g)];
    const secrets = references.filter(([, name]) => /PASSWORD|KEY/.test(name!));
    assert.ok(secrets.length >= 4);
    for (const [reference, , rest] of secrets) {
      assert.match(rest!, /^:\?\S/, `${reference} must be required with :? and a message`);
      assert.match(rest!, /\.env/, `${reference} says where to set it`);
    }
    const required = new Set(secrets.map(([, name]) => name));
    assert.deepEqual([...required].sort(), [
      'KEY_ENCRYPTION_KEY',
      'POSTGRES_PASSWORD',
      'TOLLGATE_OWNER_PASSWORD',
      'TOLLGATE_SERVICE_PASSWORD',
    ]);
    // .env.example lists each, empty, and how to fill it once.
    const example = read('.env.example');
    for (const name of required)
      assert.match(example, new RegExp(`^${name}=$`, 'm'), `${name} in .env.example`);
    assert.match(example, /test -f \.env \|\| \{ umask 077;/);
    assert.match(example, /openssl rand/);
    assert.match(example, /NEVER change it/);
  });

  it('migrates first, as the owner, granting to the role the service then connects as', () => {
    assert.deepEqual(migrate?.command, ['tollgate', 'migrate']);
    assert.deepEqual(migrate?.build, tollgate?.build, 'the same image');
    assert.equal(migrate?.depends_on?.postgres?.condition, 'service_healthy');
    assert.equal(tollgate?.depends_on?.migrate?.condition, 'service_completed_successfully');
    const owner = urlParts(migrate?.environment?.MIGRATION_DATABASE_URL);
    const service = urlParts(migrate?.environment?.DATABASE_URL);
    assert.deepEqual(owner, { user: OWNER, password: owner.password, database: DATABASE });
    assert.match(owner.password, /^\$\{TOLLGATE_OWNER_PASSWORD:\?/);
    assert.deepEqual(service, { user: SERVICE, password: service.password, database: DATABASE });
    assert.match(service.password, /^\$\{TOLLGATE_SERVICE_PASSWORD:\?/);
    assert.equal(migrate?.healthcheck?.disable, true, 'no HTTP probe of a one-shot container');
  });

  it('gives the serving container the service role only: no owner nor superuser credentials', () => {
    const env = tollgate?.environment ?? {};
    assert.deepEqual(urlParts(env.DATABASE_URL), {
      user: SERVICE,
      password: urlParts(migrate?.environment?.DATABASE_URL).password,
      database: DATABASE,
    });
    assert.equal(env.MIGRATION_DATABASE_URL, undefined);
    const whole = JSON.stringify(tollgate);
    for (const forbidden of [
      'MIGRATION_DATABASE_URL',
      'TOLLGATE_OWNER_PASSWORD',
      'POSTGRES_PASSWORD',
      OWNER,
    ]) {
      assert.ok(!whole.includes(forbidden), `the tollgate service mentions ${forbidden}`);
    }
    assert.match(env.KEY_ENCRYPTION_KEY ?? '', /^\$\{KEY_ENCRYPTION_KEY:\?/);
  });

  it('lets `docker compose exec tollgate tollgate …` run the tool against the data volume', () => {
    const dockerfile = read('Dockerfile');
    assert.match(dockerfile, /ln -s \/app\/bin\/tollgate\.js \/usr\/local\/bin\/tollgate/);
    assert.match(read('bin/tollgate.js'), /^#!\/usr\/bin\/env node\n/);
    const dataDir = /^ENV DATA_DIR=(\S+)$/m.exec(dockerfile)?.[1];
    assert.equal(dataDir, '/app/data');
    assert.ok(
      tollgate?.volumes?.some((volume) => volume.endsWith(`:${dataDir}`)),
      'the volume holds DATA_DIR',
    );
    // The tool talks to the server in its own container, whatever public address ISSUER names.
    assert.equal(tollgate?.environment?.TOLLGATE_URL, 'http://127.0.0.1:3000');
  });

  it('is accepted by docker-compose with every secret set, and refused without them', {
    skip: !hasDockerCompose() && 'docker-compose is not installed',
  }, async () => {
    const secrets = {
      KEY_ENCRYPTION_KEY: 'x',
      POSTGRES_PASSWORD: 'x',
      TOLLGATE_OWNER_PASSWORD: 'x',
      TOLLGATE_SERVICE_PASSWORD: 'x',
    };
    assert.equal((await composeConfig(secrets)).code, 0);
    const { TOLLGATE_SERVICE_PASSWORD: _, ...withoutOne } = secrets;
    const refused = await composeConfig(withoutOne);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /set TOLLGATE_SERVICE_PASSWORD in \.env/);
  });
});

describe('files that hold secrets', () => {
  it('are ignored by git, while .env.example is tracked', () => {
    const ignored = (path: string) => {
      try {
        execFileSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: root });
        return true;
      } catch {
        return false;
      }
    };
    for (const path of ['.env', 'client.json', 'gw.json', 'api.secret.json', 'data/admin.json']) {
      assert.ok(ignored(path), `${path} is not ignored by git`);
    }
    assert.ok(!ignored('.env.example'), '.env.example is ignored by git');
  });

  it('are kept out of the image', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    for (const pattern of ['.env', 'data', '**/client.json', '**/gw.json', '**/*.secret.json']) {
      assert.ok(patterns.includes(pattern), `.dockerignore lacks ${pattern}`);
    }
  });
});

function hasDockerCompose(): boolean {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `docker-compose config -q` with exactly these variables (and PATH), ignoring any .env here. */
function composeConfig(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-'));
  const envFile = join(dir, 'empty.env');
  writeFileSync(envFile, '');
  const args = [
    '--project-directory',
    root,
    '--env-file',
    envFile,
    '-f',
    resolve(root, 'docker-compose.yml'),
  ];
  return new Promise((done) => {
    execFile(
      'docker-compose',
      [...args, 'config', '-q'],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, _stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr });
      },
    );
  });
}
