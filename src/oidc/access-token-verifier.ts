import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { type DatabaseHandle, revokedTokenQueries } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';

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
  readonly #revoked: ReturnType<typeof revokedTokenQueries>;

  constructor(deps: { ring: SigningKeyRing; issuer: string; db: DatabaseHandle }) {
    this.#ring = deps.ring;
    this.#issuer = deps.issuer;
    this.#revoked = revokedTokenQueries(deps.db.db);
  }

  async verify(token: string, options: VerifyOptions = {}): Promise<VerificationResult> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#ring.verificationKey, {
        issuer: this.#issuer,
        algorithms: ['RS256', 'ES256'],
        typ: 'at+jwt',
        clockTolerance: 5,
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
    if (await this.#revoked.isRevoked(payload.jti)) return { valid: false, detail: 'revoked', payload };
    return { valid: true, payload: payload as VerifiedAccessToken };
  }

  /** Puts a token on the denylist until it would have expired anyway. */
  async revoke(payload: VerifiedAccessToken): Promise<void> {
    await this.#revoked.add({
      jti: payload.jti,
      clientId: payload.client_id,
      expiresAt: new Date(payload.exp * 1000),
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
