import { createHash, randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, SignJWT } from 'jose';

/** The `ath` of a DPoP proof for `token` (RFC 9449 §4.2). */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

/**
 * A DPoP proof made by hand, as a client's library would make it: for `token`, GET `htu`, now,
 * a fresh jti, signed by `keys` with their public key in the header. Any claim, the `alg` or
 * the `typ` can be overridden, to make the proofs an attacker would try.
 */
export async function dpopProof(options: {
  keys: { publicKey: CryptoKey; privateKey: CryptoKey };
  token: string;
  htu: string;
  claims?: Record<string, unknown>;
  alg?: string;
  typ?: string;
}): Promise<string> {
  const { keys, alg = 'ES256', typ = 'dpop+jwt' } = options;
  return new SignJWT({
    htm: 'GET',
    htu: options.htu,
    ath: tokenHash(options.token),
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...options.claims,
  })
    .setProtectedHeader({ alg, typ, jwk: await exportJWK(keys.publicKey) })
    .sign(keys.privateKey);
}
