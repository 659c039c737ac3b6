import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/** One audit key: the secret, imported once, and its public id (stored on every row it MACs). */
export interface AuditKey {
  id: string;
  key: KeyObject;
}

/** The key that MACs new rows, and every key whose rows still verify. */
export interface AuditKeys {
  current: AuditKey;
  byId: ReadonlyMap<string, AuditKey>;
}

const HKDF_INFO = 'tollgate audit chain v1';

/**
 * The audit key derived from the key-encryption key (HKDF-SHA256 with its own label), so a
 * deployment that sets only KEY_ENCRYPTION_KEY has a keyed chain too, and the two keys can never
 * be the same bytes.
 */
export function deriveAuditKey(keyEncryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', keyEncryptionKey, Buffer.alloc(0), HKDF_INFO, 32));
}

/**
 * A key's id: a MAC of a fixed label under the key, so it names the key without revealing
 * anything that helps guess it, and two deployments' ids differ.
 */
function keyId(key: KeyObject): string {
  return createHmac('sha256', key).update('tollgate audit key id').digest('base64url').slice(0, 16);
}

function auditKey(bytes: Buffer): AuditKey {
  const key = createSecretKey(bytes);
  return { id: keyId(key), key };
}

/**
 * The audit keys of this deployment: `configured` (AUDIT_KEY) or else the key derived from the
 * key-encryption key MACs new rows. Verification accepts the current key, the derived one (so
 * setting AUDIT_KEY later keeps the rows written before it valid) and every previous key given.
 */
export function auditKeys(options: {
  configured: Buffer | undefined;
  previous: Buffer[];
  keyEncryptionKey: Buffer;
}): AuditKeys {
  const derived = auditKey(deriveAuditKey(options.keyEncryptionKey));
  const current = options.configured ? auditKey(options.configured) : derived;
  const byId = new Map<string, AuditKey>();
  for (const key of [current, derived, ...options.previous.map(auditKey)]) byId.set(key.id, key);
  return { current, byId };
}
