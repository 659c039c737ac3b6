import type { Context, Next } from 'koa';
import { TollgateError } from '../common/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';

export interface Caller {
  clientId: string;
  sub: string | undefined;
}

/**
 * Checks an Authorization header: a Tollgate access token for `audience` whose `scope` contains
 * `scope` (RFC 6750). Repeated tokens are not verified again (see verifyCached).
 */
export async function authenticateBearer(
  verifier: AccessTokenVerifier,
  header: string | undefined,
  audience: string,
  scope: string,
): Promise<Caller> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header ?? '');
  if (!match?.[1]) throw new TollgateError('invalid_token', 'a Bearer access token is required');
  const result = await verifier.verifyCached(match[1], { audience });
  if (!result.valid)
    throw new TollgateError('invalid_token', `the access token is invalid (${result.detail})`);
  const scopes = (result.payload.scope ?? '').split(' ');
  if (!scopes.includes(scope))
    throw new TollgateError('insufficient_scope', `the access token lacks the ${scope} scope`);
  return { clientId: result.payload.client_id, sub: result.payload.sub };
}

/** Koa middleware form of authenticateBearer; the caller lands in `ctx.state.caller`. */
export function requireScope(verifier: AccessTokenVerifier, audience: string, scope: string) {
  return async function authenticateCaller(ctx: Context, next: Next) {
    ctx.state.caller = await authenticateBearer(verifier, ctx.get('authorization'), audience, scope);
    await next();
  };
}
