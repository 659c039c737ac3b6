import { hash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { constantTimeEqual, consumeWithin, type LimiterFactory } from '../common/index.ts';

/**
 * How far a proof's `iat` may lie from now (RFC 9449 §11.1: a short window, with jti replay
 * detection inside it). Proofs are made for one request, so a minute covers clock skew and
 * the gateway's hop.
 */
export const DPOP_WINDOW_SECONDS = 60;

/**
 * Algorithms a proof may be signed with, at the token endpoint (provider.ts) and here:
 * asymmetric only (RFC 9449 §4.2), oidc-provider's defaults.
 */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519'] as const;

/** The request a DPoP proof must have been made for. */
export interface DpopRequest {
  /** The `DPoP` header's value: the proof JWT. */
  proof: string;
  /** The original request's method (`htm`). */
  method: string;
  /** The original request's absolute URL (`htu`); its query and fragment are ignored. */
  url: string;
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3) for an access token bound to the key whose thumbprint is
 * `jkt` (`cnf.jkt`, §6.1): a `dpop+jwt` signed by the public key in its own header, that key's
 * thumbprint equal to `jkt`, `htm` and `htu` equal to the original request's method and URL,
 * `iat` within DPOP_WINDOW_SECONDS of now, `ath` the token's hash (§4.2), and `jti` never seen
 * before within the window, across instances when limits are shared through Redis: one proof is
 * one request. Resolves to undefined when the proof holds, otherwise to what failed (for logs
 * and error descriptions; callers answer `detail: dpop`).
 */
export function createDpopVerifier(limiters: LimiterFactory, now: () => number = Date.now) {
  // One point per proof for twice the window: a proof still acceptable is still remembered.
  const seen: RateLimiterAbstract = limiters({
    keyPrefix: 'dpop-jti',
    points: 1,
    duration: 2 * DPOP_WINDOW_SECONDS,
  });

  return async function verifyDpop(
    request: DpopRequest | undefined,
    accessToken: string,
    jkt: string,
  ): Promise<string | undefined> {
    if (!request) return 'the token is DPoP-bound and no DPoP proof came with it';
    let payload: Record<string, unknown>;
    let jwk: JWK | undefined;
    try {
      const verified = await jwtVerify(request.proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_ALGORITHMS],
      });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk;
    } catch {
      return 'the DPoP proof is not a dpop+jwt signed by the key in its header';
    }
    if (!jwk || !constantTimeEqual(await calculateJwkThumbprint(jwk, 'sha256'), jkt))
      return "the DPoP proof's key is not the one the token is bound to";
    if (payload.htm !== request.method) return `the DPoP proof is for another method (htm)`;
    if (typeof payload.htu !== 'string' || !sameResource(payload.htu, request.url))
      return 'the DPoP proof is for another URL (htu)';
    const seconds = now() / 1000;
    if (typeof payload.iat !== 'number' || Math.abs(seconds - payload.iat) > DPOP_WINDOW_SECONDS)
      return 'the DPoP proof is too old or from the future (iat)';
    if (
      typeof payload.ath !== 'string' ||
      !constantTimeEqual(payload.ath, hash('sha256', accessToken, 'base64url'))
    )
      return 'the DPoP proof is for another access token (ath)';
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256)
      return 'the DPoP proof has no usable jti';
    // Keyed by key and jti, hashed: the key stays short whatever the caller sent.
    const key = hash('sha256', `${jkt}\n${payload.jti}`, 'base64url');
    if (await consumeWithin(seen, key)) return 'the DPoP proof was used before (jti)';
    return undefined;
  };
}

export type DpopVerifier = ReturnType<typeof createDpopVerifier>;

/** RFC 9449 §4.3 (9): the URIs match once query and fragment are dropped (and both are http(s)). */
function sameResource(htu: string, url: string): boolean {
  const withoutQuery = (text: string) => {
    if (!URL.canParse(text)) return undefined;
    const parsed = new URL(text);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
    return `${parsed.origin}${parsed.pathname}`;
  };
  const claimed = withoutQuery(htu);
  return claimed !== undefined && claimed === withoutQuery(url);
}
