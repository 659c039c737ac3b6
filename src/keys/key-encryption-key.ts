import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_KEY_FILE = 'dev-key-encryption-key';

export interface KeyEncryptionKeySource {
  key: Buffer;
  /** Set when the key came from (or was just written to) the development key file. */
  developmentKeyPath?: string;
}

/**
 * The key-encryption key from config, or the development key in dataDir (created on first use).
 * Production refuses to start without a configured key; config validation enforces that.
 */
export function resolveKeyEncryptionKey(
  configured: Buffer | undefined,
  dataDir: string,
): KeyEncryptionKeySource {
  if (configured) return { key: configured };
  const path = join(dataDir, DEV_KEY_FILE);
  try {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
    if (key.length === 32) return { key, developmentKeyPath: path };
    throw new Error(`${path} does not hold a 32-byte key`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, developmentKeyPath: path };
}
