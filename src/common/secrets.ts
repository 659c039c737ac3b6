import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url: used for client secrets and gateway keys. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Secrets we generate are high-entropy, so a fast digest is enough to store them: a slow KDF
 * (argon2, bcrypt) would cap client-credentials throughput at a few dozen tokens per second.
 */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Compares a presented secret with a stored digest in constant time. */
export function secretMatchesDigest(presented: string, digest: string): boolean {
  const actual = Buffer.from(digestSecret(presented), 'utf8');
  const expected = Buffer.from(digest, 'utf8');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Constant-time equality of two strings of possibly different length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/**
 * The storage key of a bearer value oidc-provider hands out (authorization code, refresh token,
 * session cookie, interaction uid…): issue 9 §5, the raw value exists only in the holder's hands,
 * so rows are keyed by this digest and a presented value is digested before the lookup. The
 * values are 256-bit random, so an unsalted SHA-256 cannot be reversed by guessing. Migration
 * 0006_payload_digests computes the same string in SQL (base64url of SHA-256 of the UTF-8 bytes).
 */
export function digestBearerValue(value: string): string {
  return digestSecret(value);
}
