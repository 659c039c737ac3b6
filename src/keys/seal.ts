import { CompactEncrypt, compactDecrypt, type JWK } from 'jose';

const decoder = new TextDecoder();

/** Encrypts a private JWK at rest: a compact JWE, `dir` + A256GCM (AES-256-GCM) under the KEK. */
export async function sealJwk(jwk: JWK, kek: Buffer): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'jwk+json' })
    .encrypt(kek);
}

export async function openJwk(sealed: string, kek: Buffer): Promise<JWK> {
  try {
    const { plaintext } = await compactDecrypt(sealed, kek, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return JSON.parse(decoder.decode(plaintext)) as JWK;
  } catch (cause) {
    throw new Error(
      'cannot decrypt a signing key: KEY_ENCRYPTION_KEY differs from the one that encrypted it',
      { cause },
    );
  }
}
