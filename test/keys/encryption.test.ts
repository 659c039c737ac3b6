import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactDecrypt } from 'jose';
import { DEV_KEY_FILE, resolveKeyEncryptionKey } from '../../src/keys/index.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

interface LogLine {
  level: number;
  msg: string;
}

const WARN = 40;

function parseLogs(tg: TestInstance): LogLine[] {
  return tg.logs.map((line) => JSON.parse(line) as LogLine);
}

/** Decrypts every stored private signing key with `key`; throws when one does not open. */
async function openStoredKeys(tg: TestInstance, key: Buffer): Promise<number> {
  const rows = await tg.database.handle.db
    .selectFrom('signing_keys')
    .select('private_jwk_encrypted')
    .execute();
  for (const row of rows) await compactDecrypt(row.private_jwk_encrypted, key);
  return rows.length;
}

describe('key-encryption key without KEY_ENCRYPTION_KEY', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance();
  });
  after(() => tg.close());

  it('generates a development key file readable by its owner only', () => {
    const path = join(tg.dataDir, DEV_KEY_FILE);
    assert.equal(DEV_KEY_FILE, 'dev-key-encryption-key');
    assert.ok(existsSync(path), `${path} was not created`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url').length, 32);
  });

  it('encrypts the signing keys with that development key', async () => {
    const key = Buffer.from(readFileSync(join(tg.dataDir, DEV_KEY_FILE), 'utf8').trim(), 'base64url');
    assert.equal(await openStoredKeys(tg, key), 2);
  });

  it('warns loudly in the log that KEY_ENCRYPTION_KEY is not set', () => {
    const warnings = parseLogs(tg).filter(
      (line) => line.level >= WARN && line.msg.includes('KEY_ENCRYPTION_KEY'),
    );
    assert.equal(warnings.length, 1, tg.logs.join('\n'));
    assert.match(warnings[0]?.msg ?? '', /DEVELOPMENT key/);
  });
});

describe('key-encryption key from KEY_ENCRYPTION_KEY', () => {
  const key = randomBytes(32);
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance({ KEY_ENCRYPTION_KEY: key.toString('base64') });
  });
  after(() => tg.close());

  it('creates no development key file and logs no warning about it', () => {
    assert.ok(!existsSync(join(tg.dataDir, DEV_KEY_FILE)), 'a development key file was created');
    const warnings = parseLogs(tg).filter((line) => line.msg.includes('KEY_ENCRYPTION_KEY'));
    assert.deepEqual(warnings, []);
  });

  it('encrypts the signing keys with the configured key', async () => {
    assert.equal(await openStoredKeys(tg, key), 2);
  });

  it('never writes the configured key into the log', () => {
    const log = tg.logs.join('\n');
    for (const encoding of ['base64', 'base64url', 'hex'] as const)
      assert.ok(!log.includes(key.toString(encoding)));
  });
});

describe('development key file on restart', () => {
  it('reuses the key already in DATA_DIR, so stored signing keys stay readable', (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-kek-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = resolveKeyEncryptionKey(undefined, dataDir);
    const second = resolveKeyEncryptionKey(undefined, dataDir);
    assert.ok(second.key.equals(first.key));
    assert.equal(second.developmentKeyPath, join(dataDir, DEV_KEY_FILE));
  });

  it('refuses a development key file that does not hold 32 bytes instead of replacing it', (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-kek-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    writeFileSync(join(dataDir, DEV_KEY_FILE), 'too-short\n', { mode: 0o600 });
    assert.throws(() => resolveKeyEncryptionKey(undefined, dataDir), /does not hold a 32-byte key/);
    assert.equal(readFileSync(join(dataDir, DEV_KEY_FILE), 'utf8'), 'too-short\n');
  });
});
