import { sign } from 'node:crypto';
import { derToJose } from 'ecdsa-sig-formatter';
import { ExternalSigningKey } from 'oidc-provider';
import type { SigningKey } from '../keys/index.ts';

/**
 * One ring key as oidc-provider's external signing key (its `externalSigningSupport` feature):
 * the provider still builds every JWS (header, claims, encoding); only the signature over its
 * signing input is made here, by node:crypto with the key imported once. jose, which the
 * provider otherwise signs with, goes through WebCrypto: about 100 µs of CPU an ES256 signature
 * on the machine measured, against 25 here (docs/architecture.md, flow 3.1 step 6).
 */
class RingSigningKey extends ExternalSigningKey {
  readonly #key: SigningKey;

  constructor(key: SigningKey) {
    super();
    this.#key = key;
  }

  override get kid(): string {
    return this.#key.kid;
  }

  override get alg(): string {
    return this.#key.alg;
  }

  override keyObject() {
    return this.#key.publicKey;
  }

  /**
   * ES256 is signed on the request thread: about 25 µs, less than handing the job to the
   * thread pool costs. node:crypto returns it DER-encoded and it goes into the JWS as r||s
   * (RFC 7518 §3.4). The key is passed bare: asking node:crypto for r||s directly
   * (`{ key, dsaEncoding }`) took 50 µs a call against 25 (Node 24).
   * RS256 (RSASSA-PKCS1-v1_5, node:crypto's default for an RSA key) costs 300 µs or more, which
   * would stall every other request on the thread (ID tokens are RS256 by default): it goes to
   * the thread pool, as jose's WebCrypto signing did.
   */
  override sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const { alg, privateKey } = this.#key;
    switch (alg) {
      case 'ES256':
        return Buffer.from(derToJose(sign('sha256', data, privateKey), 'ES256'), 'base64url');
      case 'RS256':
        return new Promise((resolve, reject) => {
          sign('sha256', data, privateKey, (error, signature) =>
            error ? reject(error) : resolve(signature),
          );
        });
      default:
        // A new alg in SIGNING_ALGS must say here how it is signed (this stops the build).
        throw new Error(`no signing for ${alg satisfies never}`);
    }
  }
}

/** The provider's `jwks.keys`, in the ring's order (active keys first). */
export function providerSigningKeys(keys: SigningKey[]): ExternalSigningKey[] {
  return keys.map((key) => new RingSigningKey(key));
}
