import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/common/index.ts';
import { loadConfig } from '../../src/config/index.ts';

const MAIN = resolve(import.meta.dirname, '../../src/main.ts');
const VALID_KEY = Buffer.alloc(32, 7).toString('base64');

/** The problems loadConfig reports for `env`; fails the test when it accepts it. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message, error.problems.join('\n'));
    return error.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('defaults to port 3000, issuer http://localhost:3000 and PGlite in ./data/pglite', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.deepEqual(config.database, {
      kind: 'pglite',
      dataDir: resolve('data/pglite'),
      template: undefined,
    });
    assert.equal(config.dataDir, resolve('data'));
    assert.equal(config.production, false);
    assert.equal(config.keyEncryptionKey, undefined);
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.keys, { publishSeconds: 600, refreshSeconds: 30, rotationDays: undefined });
    assert.equal(config.metricsPort, undefined);
    assert.deepEqual(config.decisionLog, { enabled: true, allowSample: 1, inputs: 'off' });
    assert.deepEqual(config.mtls, { certificateHeader: undefined, verifiedHeader: 'x-ssl-client-verify' });
  });

  it('believes a certificate header only with proxies to believe it from, and takes header names only', () => {
    assert.deepEqual(problemsOf({ MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert' }), [
      'MTLS_CERTIFICATE_HEADER: needs TRUSTED_PROXIES, the proxies whose certificate header is believed (from anyone else it is ignored)',
    ]);
    for (const bad of ['x ssl', 'x-cert:', 'x\ncert'])
      assert.match(
        problemsOf({ MTLS_CERTIFICATE_HEADER: bad, TRUSTED_PROXIES: '10.0.0.1' }).join(),
        /^MTLS_CERTIFICATE_HEADER: must be an HTTP header name/,
      );
    const config = loadConfig({
      MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert',
      TRUSTED_PROXIES: '10.0.0.1',
      MTLS_VERIFIED_HEADER: 'X-Verified',
    });
    assert.deepEqual(config.mtls, { certificateHeader: 'x-ssl-client-cert', verifiedHeader: 'x-verified' });
  });

  it('takes the embedded database template from CACHE_DIR, resolved', () => {
    const config = loadConfig({ CACHE_DIR: 'cache/here' });
    assert.deepEqual(config.database, {
      kind: 'pglite',
      dataDir: resolve('data/pglite'),
      template: resolve('cache/here'),
    });
  });

  it('derives the default issuer from PORT and treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '8080', ISSUER: '', DATABASE_URL: '' });
    assert.equal(config.issuer, 'http://localhost:8080');
    assert.equal(config.database.kind, 'pglite');
  });

  it('reads a PostgreSQL URL, an https issuer and a key in base64, base64url or hex', () => {
    const key = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) key[i] = 250 - i; // bytes that differ between base64 and base64url
    for (const encoded of [key.toString('base64'), key.toString('base64url'), key.toString('hex')]) {
      const config = loadConfig({
        DATABASE_URL: 'postgres://tollgate@db.internal:5432/tollgate',
        ISSUER: 'https://auth.example.com',
        KEY_ENCRYPTION_KEY: encoded,
        NODE_ENV: 'production',
      });
      assert.deepEqual(config.database, {
        kind: 'postgres',
        url: 'postgres://tollgate@db.internal:5432/tollgate',
      });
      assert.equal(config.issuer, 'https://auth.example.com');
      assert.equal(config.production, true);
      assert.ok(config.keyEncryptionKey?.equals(key), `key given as ${encoded} decodes to the same 32 bytes`);
    }
  });

  const badValues: Array<[string, Record<string, string>, string]> = [
    ['PORT', { PORT: 'abc' }, 'PORT=abc'],
    ['PORT', { PORT: '70000' }, 'PORT=70000'],
    ['PORT', { PORT: '0' }, 'PORT=0'],
    ['ISSUER', { ISSUER: 'ftp://x' }, 'ISSUER=ftp://x'],
    ['ISSUER', { ISSUER: 'https://auth.example.com/' }, 'ISSUER with a trailing slash'],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL=mysql://x'],
    ['KEY_ENCRYPTION_KEY', { KEY_ENCRYPTION_KEY: 'c2hvcnQ=' }, 'KEY_ENCRYPTION_KEY of 5 bytes'],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL=loud'],
    ['KEY_REFRESH_SECONDS', { KEY_PUBLISH_SECONDS: '30', KEY_REFRESH_SECONDS: '30' }, 'refresh = publish'],
    ['KEY_REFRESH_SECONDS', { KEY_PUBLISH_SECONDS: '10', KEY_REFRESH_SECONDS: '60' }, 'refresh > publish'],
    ['KEY_ENCRYPTION_KEY', { NODE_ENV: 'production' }, 'NODE_ENV=production without KEY_ENCRYPTION_KEY'],
    ['WORKERS', { WORKERS: 'many' }, 'WORKERS=many'],
    ['LOGIN_MAX_FAILURES', { LOGIN_MAX_FAILURES: '0' }, 'LOGIN_MAX_FAILURES=0'],
    ['DECIDE_RATE_LIMIT', { DECIDE_RATE_LIMIT: 'lots' }, 'DECIDE_RATE_LIMIT=lots'],
    ['CLIENT_AUTH_WINDOW_SECONDS', { CLIENT_AUTH_WINDOW_SECONDS: '0' }, 'CLIENT_AUTH_WINDOW_SECONDS=0'],
    ['WORKERS', { WORKERS: '2' }, 'WORKERS=2 on the embedded database'],
    ['AUDIT_KEY', { AUDIT_KEY: 'c2hvcnQ=' }, 'AUDIT_KEY of 5 bytes'],
    [
      'AUDIT_PREVIOUS_KEYS',
      { AUDIT_PREVIOUS_KEYS: `${'ab'.repeat(32)},short` },
      'AUDIT_PREVIOUS_KEYS with a short key',
    ],
    ['AUDIT_CHECKPOINT_SECONDS', { AUDIT_CHECKPOINT_SECONDS: '0' }, 'AUDIT_CHECKPOINT_SECONDS=0'],
    [
      'MIGRATION_DATABASE_URL',
      { DATABASE_URL: 'postgres://svc@db/tollgate', MIGRATION_DATABASE_URL: 'mysql://owner@db/tollgate' },
      'MIGRATION_DATABASE_URL=mysql://…',
    ],
    [
      'MIGRATION_DATABASE_URL',
      { MIGRATION_DATABASE_URL: 'postgres://owner@db/tollgate' },
      'MIGRATION_DATABASE_URL without DATABASE_URL',
    ],
  ];

  it('reads the audit key, the previous ones and the checkpoint interval', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.audit.key, undefined, 'derived from KEY_ENCRYPTION_KEY when unset');
    assert.deepEqual(defaults.audit.previousKeys, []);
    assert.equal(defaults.audit.checkpointSeconds, 60);
    const config = loadConfig({
      AUDIT_KEY: 'ab'.repeat(32),
      AUDIT_PREVIOUS_KEYS: ` ${Buffer.alloc(32, 1).toString('base64')} , ${Buffer.alloc(32, 2).toString('base64url')}`,
      AUDIT_CHECKPOINT_SECONDS: '15',
    });
    assert.ok(config.audit.key?.equals(Buffer.alloc(32, 0xab)));
    assert.deepEqual(config.audit.previousKeys, [Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
    assert.equal(config.audit.checkpointSeconds, 15);
  });
  for (const [variable, env, label] of badValues) {
    it(`rejects ${label} with one message naming ${variable}`, () => {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', new RegExp(`^${variable}: \\S`));
    });
  }

  it('keeps MIGRATION_DATABASE_URL apart from the database the server opens', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://tollgate_service@db/tollgate',
      MIGRATION_DATABASE_URL: 'postgresql://tollgate_owner@db/tollgate',
    });
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://tollgate_service@db/tollgate' });
    assert.equal(config.migrationDatabaseUrl, 'postgresql://tollgate_owner@db/tollgate');
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://db/tollgate' }).migrationDatabaseUrl, undefined);
  });

  it('reports every bad variable at once, including rules that span variables', () => {
    const problems = problemsOf({
      PORT: 'abc',
      ISSUER: 'ftp://x',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      KEY_PUBLISH_SECONDS: '5',
      KEY_REFRESH_SECONDS: '5',
      NODE_ENV: 'production',
    });
    const named = problems.map((line) => line.slice(0, line.indexOf(':'))).sort();
    assert.deepEqual(named, [
      'DATABASE_URL',
      'ISSUER',
      'KEY_ENCRYPTION_KEY',
      'KEY_REFRESH_SECONDS',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  it('checks the audit, metrics and key rotation settings', () => {
    const problems = problemsOf({
      METRICS_PORT: '70000',
      DECISION_LOG: 'sometimes',
      DECISION_LOG_ALLOW_SAMPLE: '1.5',
      DECISION_LOG_INPUTS: 'plain',
      AUDIT_BUFFER_SIZE: '0',
      KEY_ROTATION_DAYS: '-1',
    });
    assert.deepEqual(problems.map((line) => line.slice(0, line.indexOf(':'))).sort(), [
      'AUDIT_BUFFER_SIZE',
      'DECISION_LOG',
      'DECISION_LOG_ALLOW_SAMPLE',
      'DECISION_LOG_INPUTS',
      'KEY_ROTATION_DAYS',
      'METRICS_PORT',
    ]);
    const config = loadConfig({
      METRICS_PORT: '9464',
      DECISION_LOG: 'off',
      DECISION_LOG_ALLOW_SAMPLE: '0.25',
      DECISION_LOG_INPUTS: 'hashed',
      KEY_ROTATION_DAYS: '30',
    });
    assert.equal(config.metricsPort, 9464);
    assert.deepEqual(config.decisionLog, { enabled: false, allowSample: 0.25, inputs: 'hashed' });
    assert.equal(config.keys.rotationDays, 30);
  });

  it('never echoes a secret value in its messages', () => {
    const secrets = ['hunter2-is-not-a-32-byte-key', 'deadbeef'.repeat(7)];
    for (const secret of secrets) {
      const problems = problemsOf({ KEY_ENCRYPTION_KEY: secret, PORT: 'abc' });
      assert.equal(problems.length, 2);
      assert.ok(problems.some((line) => line.startsWith('KEY_ENCRYPTION_KEY: ')));
      assert.ok(!problems.join('\n').includes(secret), 'the key value appears in the message');
    }
    const withValidKey = problemsOf({ KEY_ENCRYPTION_KEY: VALID_KEY, NODE_ENV: 'production', PORT: 'abc' });
    assert.deepEqual(
      withValidKey.map((line) => line.split(':')[0]),
      ['PORT'],
    );
    assert.ok(!withValidKey.join('\n').includes(VALID_KEY), 'a valid key appears in the message');
    const databasePassword = 's3cr3t-password';
    const problems = problemsOf({ DATABASE_URL: `mysql://tollgate:${databasePassword}@db/tollgate` });
    assert.ok(
      !problems.join('\n').includes(databasePassword),
      'the database password appears in the message',
    );
  });
});

/** Runs `node src/main.ts` with only `env` (plus PATH), in an empty working directory. */
async function runMain(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; cwd: string }> {
  const cwd = await mkdtemp(join(tmpdir(), 'tollgate-config-'));
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, _stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr, cwd });
      },
    );
  });
}

describe('tollgate process with a bad configuration', () => {
  const cases: Array<[string, Record<string, string>, string[]]> = [
    ['PORT=abc', { PORT: 'abc' }, ['PORT']],
    ['NODE_ENV=production without a key', { NODE_ENV: 'production' }, ['KEY_ENCRYPTION_KEY']],
    [
      'three bad variables',
      { PORT: '70000', LOG_LEVEL: 'loud', NODE_ENV: 'production' },
      ['PORT', 'LOG_LEVEL', 'KEY_ENCRYPTION_KEY'],
    ],
  ];
  for (const [label, env, variables] of cases) {
    it(`exits with code 2 and one stderr line per problem for ${label}, touching nothing on disk`, async () => {
      const { code, stderr, cwd } = await runMain(env);
      try {
        assert.equal(code, 2, stderr);
        const lines = stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, variables.length, stderr);
        lines.forEach((line, i) => {
          assert.match(line, new RegExp(`^tollgate: invalid configuration: ${variables[i]}: \\S`));
        });
        assert.deepEqual(await readdir(cwd), [], 'a refused configuration must not create ./data');
      } finally {
        await rm(cwd, { recursive: true, force: true });
      }
    });
  }
});
