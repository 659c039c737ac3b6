import { hash } from 'node:crypto';
import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { SigningKeyRing } from '../keys/index.ts';
import type { RevocationList } from './revocation-list.ts';

/** Allowed clock skew between instances and callers. */
const CLOCK_TOLERANCE_SECONDS = 5;

export type InvalidTokenDetail = 'malformed' | 'expired' | 'signature' | 'audience' | 'issuer' | 'revoked';

export type VerifiedAccessToken = JWTPayload & {
  jti: string;
  client_id: string;
  exp: number;
  scope?: string;
};

export type VerificationResult =
  | { valid: true; payload: VerifiedAccessToken }
  | { valid: false; detail: InvalidTokenDetail; payload?: JWTPayload };

export interface VerifyOptions {
  audience?: string | string[];
  /** Accept an expired token (revocation of an expired token is a no-op, not an error). */
  ignoreExpiry?: boolean;
}

/**
 * Verifies Tollgate's own JWT access tokens (RFC 9068): signature against the current key ring
 * (RS256/ES256 only, so `none` and HS256-with-the-public-key are refused), `typ: at+jwt`,
 * issuer, optional audience, expiry, and the revocation denylist.
 */
export class AccessTokenVerifier {
  readonly #ring: SigningKeyRing;
  readonly #issuer: string;
  readonly #revoked: RevocationList;

  constructor(deps: { ring: SigningKeyRing; issuer: string; revocations: RevocationList }) {
    this.#ring = deps.ring;
    this.#issuer = deps.issuer;
    this.#revoked = deps.revocations;
    // A retired key's tokens must stop verifying at once, not when their cache entry expires.
    deps.ring.on('change', () => this.#verified.clear());
  }

  // Verified tokens by SHA-256 of [token, audience option]: a repeated token skips the
  // signature, never the expiry or the denylist.
  readonly #verified = new LRUCache<string, VerifiedAccessToken>({ max: 50_000 });

  /**
   * Like verify(), but a token verified before (and not expired) is not verified again, and its
   * answer comes at once, not as a promise: used on the hot paths (/decide callers and subject
   * tokens), where a promise per request is measurable.
   */
  verifyCached(
    token: string,
    options: { audience?: string | string[] } = {},
  ): VerificationResult | Promise<VerificationResult> {
    // One-shot hash (a Hash object per request cost more than the digest itself) of an
    // unambiguous encoding: joined as text, the list [a, b] and the one audience "a,b" made the
    // same key, so a token accepted for the list was accepted for "a,b" from the cache.
    const key = hash('sha256', JSON.stringify([token, options.audience ?? null]), 'base64url');
    const hit = this.#verified.get(key);
    if (hit) {
      if (hit.exp * 1000 + CLOCK_TOLERANCE_SECONDS * 1000 <= Date.now()) {
        this.#verified.delete(key);
        return { valid: false, detail: 'expired', payload: hit };
      }
      if (this.#revoked.has(hit.jti)) return { valid: false, detail: 'revoked', payload: hit };
      return { valid: true, payload: hit };
    }
    return this.verify(token, options).then((result) => {
      if (result.valid) this.#verified.set(key, result.payload);
      return result;
    });
  }

  async verify(token: string, options: VerifyOptions = {}): Promise<VerificationResult> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#ring.verificationKey, {
        issuer: this.#issuer,
        algorithms: ['RS256', 'ES256'],
        typ: 'at+jwt',
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        ...(options.audience ? { audience: options.audience } : {}),
        ...(options.ignoreExpiry ? { currentDate: new Date(0) } : {}),
      }));
    } catch (error) {
      return { valid: false, detail: classify(error) };
    }
    if (
      typeof payload.jti !== 'string' ||
      typeof payload.client_id !== 'string' ||
      typeof payload.exp !== 'number'
    ) {
      return { valid: false, detail: 'malformed' };
    }
    if (this.#revoked.has(payload.jti)) return { valid: false, detail: 'revoked', payload };
    return { valid: true, payload: payload as VerifiedAccessToken };
  }

  /**
   * Puts a token on the denylist until it would have expired anyway: `exp` plus the clock
   * tolerance verification allows, or it would be accepted again in those last seconds.
   */
  async revoke(payload: VerifiedAccessToken): Promise<void> {
    await this.#revoked.add({
      jti: payload.jti,
      clientId: payload.client_id,
      expiresAt: new Date((payload.exp + CLOCK_TOLERANCE_SECONDS) * 1000),
    });
  }
}

function classify(error: unknown): InvalidTokenDetail {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'audience';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'nbf' || error.claim === 'iat') return 'expired';
    return 'malformed';
  }
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey ||
    error instanceof joseErrors.JOSEAlgNotAllowed
  ) {
    return 'signature';
  }
  return 'malformed';
}
