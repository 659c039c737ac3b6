import { decodeJwt } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import { digestBearerValue } from '../common/index.ts';

/**
 * Token-service evidence from oidc-provider's own events: every token response (issued, with
 * the access token's jti, subject, API and scopes; never the token), every refused token request
 * (with the OAuth error), and every revoked grant or refresh token.
 */
export function auditProviderEvents(provider: Provider, audit: AuditSink): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    recordTokenIssued(audit, {
      clientId: ctx.oidc.client?.clientId,
      ip: ctx.ip,
      grantType: ctx.oidc.params?.grant_type,
      body: ctx.body,
    });
  });

  provider.on(
    'grant.error',
    (ctx: KoaContextWithOIDC, error: { error?: string; error_description?: string }) => {
      const named = ctx.oidc?.params?.client_id;
      const clientId = ctx.oidc?.client?.clientId ?? (typeof named === 'string' ? named : undefined);
      audit.record({
        type: 'token.refused',
        actor: clientId,
        clientId,
        ip: ctx.ip,
        data: {
          grant_type: ctx.oidc?.params?.grant_type,
          error: error.error ?? 'server_error',
          error_description: error.error_description,
        },
      });
    },
  );

  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const clientId = ctx.oidc?.client?.clientId;
    audit.record({
      type: 'grant.revoked',
      actor: clientId,
      clientId,
      ip: ctx.ip,
      data: { grant_id: grantId, route: ctx.oidc?.route },
    });
  });

  provider.on(
    'refresh_token.destroyed',
    (token: { jti: string; clientId?: string; accountId?: string; grantId?: string }) => {
      audit.record({
        type: 'token.revoked',
        subject: token.accountId,
        clientId: token.clientId,
        // The jti of a refresh token is the token itself: record its storage digest (issue 9 §5).
        data: { kind: 'refresh_token', jti: digestBearerValue(token.jti), grant_id: token.grantId },
      });
    },
  );
}

/**
 * `token.issued` for a token response: the access token's jti, subject, API and scopes, never
 * the token. Shared with client credentials answered before oidc-provider (client-credentials.ts).
 */
export function recordTokenIssued(
  audit: AuditSink,
  issued: { clientId: string | undefined; ip: string; grantType: unknown; body: unknown },
): void {
  const body = issued.body as { access_token?: unknown; scope?: unknown } | undefined;
  const claims = typeof body?.access_token === 'string' ? claimsOf(body.access_token) : {};
  audit.record({
    type: 'token.issued',
    actor: issued.clientId,
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: issued.clientId,
    ip: issued.ip,
    data: {
      grant_type: issued.grantType,
      jti: claims.jti,
      aud: claims.aud,
      scope: typeof body?.scope === 'string' ? body.scope : claims.scope,
      exp: claims.exp,
    },
  });
}

function claimsOf(jwt: string): Record<string, unknown> {
  try {
    return decodeJwt(jwt);
  } catch {
    return {};
  }
}
