import {
  CompactEncrypt,
  calculateJwkThumbprint,
  compactDecrypt,
  decodeProtectedHeader,
  type JWK,
} from 'jose';

const decoder = new TextDecoder();

/**
 * What a sealed private key is bound to: its row's kid, signing alg and public key (by its
 * RFC 7638 thumbprint, `jkt`). They travel in the JWE protected header, which AES-GCM
 * authenticates as associated data (RFC 7516 §5.1 step 14), so a row edited in the database, or
 * a ciphertext copied into another row, no longer matches what was sealed (issue 9).
 */
export interface KeyBinding {
  kid: string;
  alg: string;
  publicJwk: JWK;
}

/** Why a stored key is refused; the ring logs it and leaves the key out. */
export class SealedKeyRefused extends Error {
  override readonly name = 'SealedKeyRefused';
}

/** The KEK opens no stored key at all: the configuration is wrong, not a row. */
export class WrongKeyEncryptionKey extends Error {
  override readonly name = 'WrongKeyEncryptionKey';
}

/**
 * Encrypts a private JWK at rest: a compact JWE, `dir` + A256GCM (AES-256-GCM) under the KEK,
 * whose protected header binds it to its row.
 */
export async function sealJwk(jwk: JWK, kek: Buffer, binding: KeyBinding): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({
      alg: 'dir',
      enc: 'A256GCM',
      cty: 'jwk+json',
      kid: binding.kid,
      sig_alg: binding.alg,
      jkt: await calculateJwkThumbprint(binding.publicJwk),
    })
    .encrypt(kek);
}

/** True for a key sealed before issue 9, whose header binds it to nothing. */
export function isUnbound(sealed: string): boolean {
  try {
    return decodeProtectedHeader(sealed).jkt === undefined;
  } catch {
    return false;
  }
}

/**
 * Opens a sealed private JWK and checks it belongs to `binding`: the authenticated header names
 * this kid, alg and public key, and the private key is the one whose public half is published.
 * Throws SealedKeyRefused when it does not, WrongKeyEncryptionKey when it cannot be decrypted.
 * `legacy` accepts an unbound key (sealed before issue 9) when the key itself matches the row,
 * so that it can be re-sealed with its binding.
 */
export async function openJwk(
  sealed: string,
  kek: Buffer,
  binding: KeyBinding,
  options: { legacy?: boolean } = {},
): Promise<JWK> {
  let plaintext: Uint8Array;
  let header: Record<string, unknown>;
  try {
    ({ plaintext, protectedHeader: header } = await compactDecrypt(sealed, kek, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    }));
  } catch (cause) {
    throw new WrongKeyEncryptionKey(
      'cannot decrypt a signing key: KEY_ENCRYPTION_KEY differs from the one that encrypted it',
      { cause },
    );
  }
  const jwk = JSON.parse(decoder.decode(plaintext)) as JWK;
  const publicThumbprint = await calculateJwkThumbprint(binding.publicJwk);
  if (header.jkt === undefined && !options.legacy)
    throw new SealedKeyRefused(`signing key ${binding.kid} is sealed without its binding`);
  // An unbound key vouches for nothing but itself: its kid must still be its public key's thumbprint.
  if (header.jkt === undefined && binding.kid !== publicThumbprint)
    throw new SealedKeyRefused(`signing key ${binding.kid}: the kid is not its public key's thumbprint`);
  if (
    header.jkt !== undefined &&
    (header.kid !== binding.kid || header.sig_alg !== binding.alg || header.jkt !== publicThumbprint)
  )
    throw new SealedKeyRefused(`signing key ${binding.kid}: its row does not match what was sealed`);
  // The private JWK carries its public members: its thumbprint is that of its public key.
  if ((await calculateJwkThumbprint(jwk)) !== publicThumbprint || !fitsAlg(jwk, binding.alg))
    throw new SealedKeyRefused(`signing key ${binding.kid}: the private key does not match its public key`);
  return jwk;
}

function fitsAlg(jwk: JWK, alg: string): boolean {
  if (alg === 'RS256') return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  return false;
}
