import { decodeProtectedHeader } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import type { UserDirectory } from './user-directory.ts';

/** Only confidential clients (resource servers) may introspect; one rule for every token format. */
export function mayIntrospect(client: { clientAuthMethod?: string | undefined }): boolean {
  return client.clientAuthMethod !== undefined && client.clientAuthMethod !== 'none';
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
      ctx.body = mayIntrospect(oidc.client) ? await introspect(verifier, users, token) : { active: false };
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

async function introspect(verifier: AccessTokenVerifier, users: UserDirectory, token: string) {
  const result = await verifier.verify(token);
  if (!result.valid) return { active: false };
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
  };
}

function isJwt(token: string): boolean {
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}
