import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateFile, PRIVATE_DIR_MODE, readPrivateFile } from '../common/index.ts';

export const DEV_KEY_FILE = 'dev-key-encryption-key';

export interface KeyEncryptionKeySource {
  key: Buffer;
  /** Set when the key came from (or was just written to) the development key file. */
  developmentKeyPath?: string;
}

/**
 * The key-encryption key from config, or the development key in dataDir (created on first use).
 * Production refuses to start without a configured key; config validation enforces that.
 * The file is never followed through a symbolic link (a planted link would hand the service a
 * key someone else knows) and is created exclusively, 0600 (issue 9).
 */
export function resolveKeyEncryptionKey(
  configured: Buffer | undefined,
  dataDir: string,
): KeyEncryptionKeySource {
  if (configured) return { key: configured };
  const path = join(dataDir, DEV_KEY_FILE);
  const stored = readPrivateFile(path);
  if (stored !== undefined) {
    const key = Buffer.from(stored.trim(), 'base64url');
    if (key.length === 32) return { key, developmentKeyPath: path };
    throw new Error(`${path} does not hold a 32-byte key`);
  }
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const key = randomBytes(32);
  createPrivateFile(path, `${key.toString('base64url')}\n`);
  return { key, developmentKeyPath: path };
}
