import type { Context, Next } from 'koa';
import { TollgateError } from '../common/index.ts';
import type { AccessTokenVerifier, VerificationResult } from '../oidc/index.ts';

export interface Caller {
  clientId: string;
  sub: string | undefined;
  /** The token's scopes; a scope counts only while the client still holds it (CurrentGrants). */
  scopes: readonly string[];
}

/** The grants every instance holds in memory (oidc/client-grants.ts), as callers are checked. */
export interface CurrentGrants {
  allows(clientId: string, audience: string, scope: string): boolean;
}

export interface CallerRequirement {
  audience: string;
  scope: string;
  grants: CurrentGrants;
  /** Only a client acting for itself (client credentials: `sub` is the client), never a user login. */
  clientOnly?: boolean;
}

/**
 * Checks an Authorization header: a Tollgate access token for `audience` whose `scope` contains
 * `scope` (RFC 6750). Repeated tokens are not verified again (see verifyCached); the client's
 * grant is checked on every request, so an ungrant or a deleted client is refused at once
 * although its tokens have not expired (issue 9).
 */
export function authenticateBearer(
  verifier: AccessTokenVerifier,
  header: string | undefined,
  required: CallerRequirement,
): Caller | Promise<Caller> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header ?? '');
  if (!match?.[1]) throw new TollgateError('invalid_token', 'a Bearer access token is required');
  const result = verifier.verifyCached(match[1], { audience: required.audience });
  // A token seen before is answered at once (verifyCached): no promise on the hot path.
  return result instanceof Promise ? result.then((r) => callerFor(r, required)) : callerFor(result, required);
}

function callerFor(result: VerificationResult, required: CallerRequirement): Caller {
  const { audience, scope } = required;
  if (!result.valid)
    throw new TollgateError('invalid_token', `the access token is invalid (${result.detail})`);
  const { payload } = result;
  // RFC 9449 §7.1, RFC 8705 §3: a token bound to a key (DPoP) or a certificate is never
  // accepted as a bearer token. Callers of Tollgate's own API use bearer tokens only.
  if (payload.cnf !== undefined)
    throw new TollgateError(
      'invalid_token',
      'the access token is bound to a key (DPoP) or a TLS certificate and is not accepted as a Bearer token here',
    );
  const scopes = (payload.scope ?? '').split(' ');
  if (!scopes.includes(scope))
    throw new TollgateError('insufficient_scope', `the access token lacks the ${scope} scope`);
  if (required.clientOnly && payload.sub !== payload.client_id)
    throw new TollgateError(
      'insufficient_scope',
      `the ${scope} scope is accepted only from client credentials`,
    );
  if (!required.grants.allows(payload.client_id, audience, scope))
    throw new TollgateError(
      'insufficient_scope',
      `the client no longer holds a grant for the ${scope} scope`,
    );
  return { clientId: payload.client_id, sub: payload.sub, scopes };
}

/** Koa middleware form of authenticateBearer; the caller lands in `ctx.state.caller`. */
export function requireScope(verifier: AccessTokenVerifier, required: CallerRequirement) {
  return async function authenticateCaller(ctx: Context, next: Next) {
    ctx.state.caller = await authenticateBearer(verifier, ctx.get('authorization'), required);
    await next();
  };
}
