import { sign } from 'node:crypto';
import { derToJose } from 'ecdsa-sig-formatter';
import { ExternalSigningKey } from 'oidc-provider';
import type { SigningKey } from '../keys/index.ts';

/**
 * One ring key as oidc-provider's external signing key (its `externalSigningSupport` feature):
 * the provider still builds every JWS (header, claims, encoding); only the signature over its
 * signing input is made here, by node:crypto with the key imported once. jose, which the
 * provider otherwise signs with, goes through WebCrypto, which costs about twice the CPU per
 * ES256 signature (docs/architecture.md, flow 3.1 step 6).
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
   * (`{ key, dsaEncoding }`) took 50 µs a call against 25 (Node 24), most of it node:crypto
   * working out that the options object is not a key.
   * RS256 (RSASSA-PKCS1-v1_5, node:crypto's default for an RSA key) costs 300 µs or more, which
   * would stall every other request on the thread (ID tokens are RS256 by default): it goes to
   * the thread pool, as jose's WebCrypto signing did.
   */
  override sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const { privateKey } = this.#key;
    if (this.#key.alg === 'ES256')
      return Buffer.from(derToJose(sign('sha256', data, privateKey), 'ES256'), 'base64url');
    return new Promise((resolve, reject) => {
      sign('sha256', data, privateKey, (error, signature) => (error ? reject(error) : resolve(signature)));
    });
  }
}

/** The provider's `jwks.keys`, in the ring's order (active keys first). */
export function providerSigningKeys(keys: SigningKey[]): ExternalSigningKey[] {
  return keys.map((key) => new RingSigningKey(key));
}
