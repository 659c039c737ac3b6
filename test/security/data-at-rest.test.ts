import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CompactEncrypt,
  compactDecrypt,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import pino from 'pino';
import type { AdminCredentials } from '../../src/admin/index.ts';
import { startTollgate } from '../../src/compose/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEV_KEY_FILE, resolveKeyEncryptionKey } from '../../src/keys/index.ts';
import { runTollgate } from '../helpers/cli.ts';
import {
  createPostgresDatabase,
  ENGINE,
  openTestDatabase,
  pgliteTemplateDir,
  preparePgliteTemplate,
  type TestDatabase,
} from '../helpers/database.ts';
import { freePort, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';
import { loggedInUser } from '../helpers/users.ts';

const root = resolve(import.meta.dirname, '../..');

/** A Tollgate started as a user starts it: `node src/main.ts`, its own process and DATA_DIR. */
interface Service {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

function spawnService(env: Record<string, string>): Promise<Service> {
  return freePort().then((port) => {
    const base = { ...process.env };
    for (const name of ['DATABASE_URL', 'DATA_DIR', 'KEY_ENCRYPTION_KEY']) delete base[name];
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: root,
      env: { ...base, LOG_LEVEL: 'info', ...env, PORT: String(port), ISSUER: url },
    });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    return { child, url, output: () => output, exited };
  });
}

/** Resolves 'ready' once /readyz answers 200, or the exit code if the process ends first. */
async function readyOrExit(service: Service): Promise<'ready' | number | null> {
  let exit: number | null | undefined;
  service.exited.then((code) => (exit = code));
  for (let i = 0; i < 600; i++) {
    if (exit !== undefined) return exit;
    if ((await fetch(`${service.url}/readyz`).catch(() => undefined))?.ok) return 'ready';
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`neither ready nor exited: ${service.output()}`);
}

async function stop(service: Service, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
  return service.exited;
}

/**
 * A DATA_DIR, plus DATABASE_URL on PostgreSQL; `existing` copies the prepared embedded database.
 * `engine` picks the embedded database even in the PostgreSQL run, for what only it has.
 */
async function dataDirFor(
  existing: boolean,
  engine: 'postgres' | 'pglite' = ENGINE,
): Promise<{ dir: string; env: Record<string, string>; drop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-at-rest-'));
  const env: Record<string, string> = { DATA_DIR: dir };
  let dropDatabase = async () => {};
  if (engine === 'postgres') {
    const database = await createPostgresDatabase();
    env.DATABASE_URL = database.url;
    dropDatabase = database.drop;
  } else if (existing) {
    await preparePgliteTemplate();
    cpSync(pgliteTemplateDir(), join(dir, 'pglite'), { recursive: true });
  }
  return {
    dir,
    env,
    async drop() {
      await dropDatabase();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every path under `dir` (itself included) that group or others may read, write or enter. */
function exposedEntries(dir: string): string[] {
  const exposed: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) exposed.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
  return exposed;
}

/** Just enough of a TestInstance for the fixtures to drive a child process over HTTP. */
function asInstance(service: Service, admin: AdminCredentials): TestInstance {
  const adminToken = async () => {
    const body = (await (await requestToken(service.url, admin, { scope: 'admin' })).json()) as {
      access_token: string;
    };
    return body.access_token;
  };
  return {
    url: service.url,
    issuer: service.url,
    admin,
    adminToken,
    async admin$(method: string, path: string, body?: unknown) {
      return fetch(`${service.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await adminToken()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
  } as TestInstance;
}

describe('DATA_DIR is readable by its owner only', () => {
  it('after a fresh start, a browser login and token requests, no file under DATA_DIR is readable and no directory enterable by group or others', async (t) => {
    const data = await dataDirFor(false);
    t.after(() => data.drop());
    const service = await spawnService(data.env);
    t.after(() => stop(service, 'SIGKILL'));
    assert.equal(await readyOrExit(service), 'ready', service.output());
    const admin = JSON.parse(readFileSync(join(data.dir, 'admin.json'), 'utf8')) as AdminCredentials;
    const user = { username: 'walt', password: 'correct horse battery', roles: ['clerk'] };
    const { accessToken } = await loggedInUser(asInstance(service, admin), user, {
      audience: 'https://files.example.test',
    });
    assert.ok(accessToken);
    for (let i = 0; i < 5; i++)
      assert.equal((await requestToken(service.url, admin, { scope: 'admin' })).status, 200);

    assert.deepEqual(exposedEntries(data.dir), []);
    assert.equal(lstatSync(data.dir).mode & 0o777, 0o700);
    assert.equal(lstatSync(join(data.dir, 'admin.json')).mode & 0o777, 0o600);
    assert.equal(lstatSync(join(data.dir, DEV_KEY_FILE)).mode & 0o777, 0o600);
    // And still so once the service has shut down (checkpoint, lock released).
    assert.equal(await stop(service), 0, service.output());
    assert.deepEqual(exposedEntries(data.dir), []);
  });

  it('tightens a DATA_DIR an earlier version left readable to everyone at start, and logs that it did', async (t) => {
    const data = await dataDirFor(true);
    t.after(() => data.drop());
    writeFileSync(join(data.dir, DEV_KEY_FILE), `${randomBytes(32).toString('base64url')}\n`, {
      mode: 0o644,
    });
    chmodSync(join(data.dir, DEV_KEY_FILE), 0o644);
    chmodSync(data.dir, 0o755);
    assert.notDeepEqual(exposedEntries(data.dir), [], 'the fixture is not world-readable');

    const service = await spawnService(data.env);
    t.after(() => stop(service, 'SIGKILL'));
    assert.equal(await readyOrExit(service), 'ready', service.output());
    assert.deepEqual(exposedEntries(data.dir), []);
    assert.match(service.output(), /DATA_DIR was readable by other users; its files are now 0600/);
  });
});

// The lock guards the embedded database (PostgreSQL serves many processes): tested on it in
// either run, so the PostgreSQL run skips nothing.
describe('one process per embedded database', () => {
  let data: Awaited<ReturnType<typeof dataDirFor>>;
  let first: Service;
  before(async () => {
    data = await dataDirFor(true, 'pglite');
    first = await spawnService(data.env);
    assert.equal(await readyOrExit(first), 'ready', first.output());
  });
  after(async () => {
    await stop(first, 'SIGKILL');
    await data.drop();
  });

  it('holds the lock as a 0600 file naming its pid', () => {
    const lock = join(data.dir, 'pglite.lock');
    assert.equal(readFileSync(lock, 'utf8').trim(), String(first.child.pid));
    assert.equal(lstatSync(lock).mode & 0o777, 0o600);
  });

  it('refuses a second server on the same DATA_DIR with exit 2, naming the pid that holds it', async (t) => {
    const second = await spawnService(data.env);
    t.after(() => stop(second, 'SIGKILL'));
    assert.equal(await readyOrExit(second), 2, second.output());
    assert.match(second.output(), new RegExp(`in use by process ${first.child.pid}\\b`));
    assert.equal((await fetch(`${first.url}/readyz`)).status, 200, 'the first server still serves');
  });

  it('refuses `tollgate migrate` while the server runs, with exit 2 naming its pid', async () => {
    const run = await runTollgate(['migrate'], data.env);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`^tollgate: cannot migrate: .*in use by process ${first.child.pid}\\b`),
    );
  });

  it('takes over the lock of a killed server, and releases its own on a clean shutdown', async () => {
    assert.equal(await stop(first, 'SIGKILL'), null);
    assert.ok(existsSync(join(data.dir, 'pglite.lock')), 'SIGKILL leaves the lock behind');
    first = await spawnService(data.env);
    assert.equal(await readyOrExit(first), 'ready', first.output());
    assert.equal(readFileSync(join(data.dir, 'pglite.lock'), 'utf8').trim(), String(first.child.pid));
    assert.equal(await stop(first), 0, first.output());
    assert.equal(existsSync(join(data.dir, 'pglite.lock')), false);
  });
});

describe('admin.json and the development key are never reached through a planted link', () => {
  it('refuses to start rather than write admin.json through a symbolic link, leaving its target unchanged', async (t) => {
    const data = await dataDirFor(true);
    t.after(() => data.drop());
    const target = join(data.dir, '..', `victim-${randomBytes(4).toString('hex')}`);
    writeFileSync(target, 'precious\n');
    t.after(() => rmSync(target, { force: true }));
    symlinkSync(target, join(data.dir, 'admin.json'));

    const service = await spawnService(data.env);
    t.after(() => stop(service, 'SIGKILL'));
    const outcome = await readyOrExit(service);
    assert.notEqual(outcome, 'ready', 'started after writing through the link');
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
    assert.match(
      service.output(),
      /refusing to write .*admin\.json: a file or symbolic link is already there/,
    );
    assert.ok(lstatSync(join(data.dir, 'admin.json')).isSymbolicLink());
  });

  it('refuses a development key file that is a symbolic link to a key someone else knows', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-at-rest-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const known = join(dir, 'known-key');
    writeFileSync(known, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    symlinkSync(known, join(dir, DEV_KEY_FILE));
    assert.throws(() => resolveKeyEncryptionKey(undefined, dir), /refusing to read .* symbolic link/);
  });
});

/** An in-process Tollgate on a database the test keeps across restarts, with a known KEK. */
async function startOn(database: TestDatabase, dataDir: string, kek: Buffer) {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_KEY: kek.toString('base64'),
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_MS: '0',
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const tollgate = await startTollgate(config, {
    logger: pino({ level: 'info' }, sink),
    db: database.handle,
    host: '127.0.0.1',
  });
  const admin = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as AdminCredentials;
  return { tollgate, logs, admin, url: tollgate.url };
}

type Started = Awaited<ReturnType<typeof startOn>>;

async function signingKid(tg: Started): Promise<string> {
  const response = await requestToken(tg.url, tg.admin, { scope: 'admin' });
  assert.equal(response.status, 200);
  const { access_token } = (await response.json()) as { access_token: string };
  // Verified against what the service publishes, as a resource server does.
  const jwks = createRemoteJWKSet(new URL(`${tg.url}/jwks`));
  const { protectedHeader } = await jwtVerify(access_token, jwks);
  return protectedHeader.kid as string;
}

async function publishedKids(tg: Started): Promise<string[]> {
  const { keys } = (await (await fetch(`${tg.url}/jwks`)).json()) as { keys: { kid: string }[] };
  return keys.map((k) => k.kid);
}

function refusedKids(tg: Started): string[] {
  return tg.logs
    .map((line) => JSON.parse(line) as { msg: string; kid?: string })
    .filter((line) => line.msg.startsWith('signing key refused'))
    .map((line) => line.kid as string);
}

describe('signing-key rows are bound to their sealed private keys', () => {
  const kek = randomBytes(32);
  let database: TestDatabase;
  let dataDir: string;
  let tg: Started;
  const rows = () => database.handle.db.selectFrom('signing_keys').selectAll().execute();
  const update = (kid: string, set: Record<string, unknown>) =>
    database.handle.db.updateTable('signing_keys').set(set).where('kid', '=', kid).execute();

  before(async () => {
    database = await openTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'tollgate-at-rest-'));
    tg = await startOn(database, dataDir, kek);
  });
  after(async () => {
    await tg.tollgate.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function restart(): Promise<void> {
    await tg.tollgate.close();
    tg = await startOn(database, dataDir, kek);
  }

  it('re-seals keys stored the old, unbound way once at start, and they still sign', async () => {
    const original = await rows();
    await tg.tollgate.close();
    // The format before issue 9: the protected header binds the key to nothing.
    for (const row of original) {
      const { plaintext } = await compactDecrypt(row.private_jwk_encrypted, kek);
      const legacy = await new CompactEncrypt(plaintext)
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'jwk+json' })
        .encrypt(kek);
      await update(row.kid, { private_jwk_encrypted: legacy });
    }
    tg = await startOn(database, dataDir, kek);

    const resealed = tg.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.msg.startsWith('signing keys re-sealed'));
    assert.deepEqual([...(resealed?.kids ?? [])].sort(), original.map((r) => r.kid).sort());
    for (const row of await rows())
      assert.equal(decodeProtectedHeader(row.private_jwk_encrypted).kid, row.kid);
    const kid = await signingKid(tg);
    assert.ok(
      original.some((r) => r.kid === kid),
      'a re-sealed key signs',
    );
    assert.deepEqual(refusedKids(tg), []);
  });

  it('refuses two keys whose sealed private keys were swapped: logged, out of JWKS, never signing, and the service keeps issuing', async () => {
    const rotated = (await (
      await fetch(`${tg.url}/admin/keys/rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await adminToken(tg)}` },
      })
    ).json()) as { keys: { kid: string; alg: string }[] };
    const [a, b] = rotated.keys.map((k) => k.kid) as [string, string];
    const sealed = Object.fromEntries((await rows()).map((r) => [r.kid, r.private_jwk_encrypted]));
    await update(a, { private_jwk_encrypted: sealed[b] });
    await update(b, { private_jwk_encrypted: sealed[a] });

    // The running instance on its next refresh, and a restarted one at load.
    await tg.tollgate.ring.refresh();
    assert.deepEqual(refusedKids(tg).sort(), [a, b].sort());
    assert.equal(
      (await publishedKids(tg)).some((kid) => kid === a || kid === b),
      false,
    );
    await restart();
    assert.deepEqual(refusedKids(tg).sort(), [a, b].sort());
    assert.equal(
      (await publishedKids(tg)).some((kid) => kid === a || kid === b),
      false,
    );
    assert.equal(
      tg.tollgate.ring.signingKeys().some((k) => k.kid === a || k.kid === b),
      false,
    );
    assert.notEqual(await signingKid(tg), a);
  });

  it("refuses a key whose row's public key or alg was edited, at load, and signs with a key it trusts", async () => {
    const active = tg.tollgate.ring.activeKid('RS256');
    const activeEs = tg.tollgate.ring.activeKid('ES256');
    const { publicKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    await update(active, { public_jwk: JSON.stringify(await exportJWK(publicKey)) });
    await update(activeEs, { alg: 'RS256' });
    await restart();

    assert.deepEqual(
      refusedKids(tg)
        .filter((kid) => kid === active || kid === activeEs)
        .sort(),
      [active, activeEs].sort(),
    );
    assert.equal(
      (await publishedKids(tg)).some((kid) => kid === active || kid === activeEs),
      false,
    );
    // No trusted RS256 or ES256 key was left: start-up created new ones rather than fail.
    const kid = await signingKid(tg);
    assert.ok(![active, activeEs].includes(kid));
    assert.ok([tg.tollgate.ring.activeKid('RS256'), tg.tollgate.ring.activeKid('ES256')].includes(kid));
  });
});

async function adminToken(tg: Started): Promise<string> {
  const body = (await (await requestToken(tg.url, tg.admin, { scope: 'admin' })).json()) as {
    access_token: string;
  };
  return body.access_token;
}
