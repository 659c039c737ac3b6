import { decodeProtectedHeader } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import type { AccessTokenVerifier, VerifiedAccessToken } from './access-token-verifier.ts';
import type { ClientGrants } from './client-grants.ts';
import type { UserDirectory } from './user-directory.ts';

/**
 * Who may introspect a token, one rule for every token format: a confidential client, and only
 * the token's own client or one granted introspection for the token's audience (a resource
 * server), as RFC 7662 §4 intends (issue 9 §6). Anyone else learns only `active: false`.
 */
export function mayIntrospect(
  grants: ClientGrants,
  client: { clientId: string; clientAuthMethod?: string | undefined },
  token: { clientId?: string | undefined; audiences: readonly string[] },
): boolean {
  if (client.clientAuthMethod === undefined || client.clientAuthMethod === 'none') return false;
  if (token.clientId === client.clientId) return true;
  return token.audiences.some((audience) => grants.find(client.clientId, audience)?.introspect === true);
}

/** A token's audiences, whichever form its `aud` (or resource indicator) takes. */
export function audiencesOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * oidc-provider refuses JWT access tokens at introspection and revocation
 * (`unsupported_token_type`), but only after it has authenticated the calling client. This
 * middleware takes over exactly then: introspection verifies the JWT and consults the denylist;
 * revocation puts its `jti` on the denylist until it expires (RFC 7009, RFC 7662).
 */
export function handleStructuredTokens(
  verifier: AccessTokenVerifier,
  audit: AuditSink,
  users: UserDirectory,
  grants: ClientGrants,
) {
  return async function structuredTokens(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next();
    const oidc = ctx.oidc;
    const route = oidc?.route;
    if (route !== 'introspection' && route !== 'revocation') return;
    const body = ctx.body as { error?: string } | undefined;
    const token = oidc.params?.token;
    if (
      body?.error !== 'unsupported_token_type' ||
      !oidc.client ||
      typeof token !== 'string' ||
      !isJwt(token)
    ) {
      return;
    }
    ctx.status = 200;
    if (route === 'introspection') {
      const caller = oidc.client;
      ctx.body = await introspect(verifier, users, token, (payload) =>
        mayIntrospect(grants, caller, {
          clientId: payload.client_id,
          audiences: audiencesOf(payload.aud),
        }),
      );
      return;
    }
    const result = await verifier.verify(token, { ignoreExpiry: true });
    // RFC 7009 §2.2: an invalid token is answered 200 all the same; a client may revoke only
    // tokens issued to it (answered like oidc-provider does for its own token formats).
    if (result.valid && result.payload.client_id !== oidc.client.clientId) {
      ctx.status = 400;
      ctx.body = {
        error: 'invalid_request',
        error_description: 'client is not authorized to revoke the presented token',
      };
      return;
    }
    if (result.valid) {
      await verifier.revoke(result.payload);
      audit.record({
        type: 'token.revoked',
        actor: oidc.client.clientId,
        subject: result.payload.sub,
        clientId: result.payload.client_id,
        ip: ctx.ip,
        data: { kind: 'access_token', jti: result.payload.jti, exp: result.payload.exp },
      });
    }
    ctx.body = '';
  };
}

/**
 * The RFC 7662 answer for a JWT access token, `allowed` saying whether the caller may learn of
 * it. A token verified before is not verified again (verifyCached): a resource server asks
 * about the same token on every request it serves, and expiry and denylist are still checked.
 */
export async function introspect(
  verifier: AccessTokenVerifier,
  users: UserDirectory,
  token: string,
  allowed: (payload: VerifiedAccessToken) => boolean,
) {
  const result = await verifier.verifyCached(token);
  if (!result.valid || !allowed(result.payload)) return { active: false };
  const { payload } = result;
  // Issue 9: a deleted or disabled user's tokens are no longer active (RFC 7662 §2.2).
  if ((await users.tokenSubject(payload)).kind === 'gone') return { active: false };
  return {
    active: true,
    token_type: 'Bearer',
    iss: payload.iss,
    sub: payload.sub,
    aud: payload.aud,
    client_id: payload.client_id,
    scope: payload.scope,
    jti: payload.jti,
    iat: payload.iat,
    exp: payload.exp,
    ...(payload.roles ? { roles: payload.roles } : {}),
    // A sender-constrained token's binding, for the resource server to check the proof or the
    // certificate against (RFC 9449 §6.2, RFC 8705 §3.2).
    ...(payload.cnf && typeof payload.cnf === 'object' ? { cnf: payload.cnf } : {}),
  };
}

export function isJwt(token: string): boolean {
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}
