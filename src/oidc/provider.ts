import { createHmac } from 'node:crypto';
import Provider, { type Configuration, errors } from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import { secretMatchesDigest } from '../common/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { CLAIMS, createFindAccount, requestUsers } from './accounts.ts';
import { createAdapterFactory } from './adapter.ts';
import type { RoutedContext } from './address-allow-list.ts';
import { auditProviderEvents } from './audit-events.ts';
import type { ClientGrants } from './client-grants.ts';
import type { ApiDirectory, ClientDirectory } from './directories.ts';
import { DPOP_ALGORITHMS } from './dpop.ts';
import { type ClientCertificates, certificateSubjectMatches } from './mtls.ts';
import { answerRefusedValuesWith400 } from './refused-values.ts';
import { OIDC_SCOPES, type ResourceGrants } from './resource-grants.ts';
import { providerSigningKeys } from './signing-keys.ts';
import { audiencesOf, handleStructuredTokens, mayIntrospect } from './structured-tokens.ts';
import { answerOutagesWith503 } from './unavailable.ts';
import type { UserDirectory } from './user-directory.ts';
import { isWebUrl, type Pages } from './views.ts';

export interface ProviderDeps {
  issuer: string;
  db: DatabaseHandle;
  ring: SigningKeyRing;
  verifier: AccessTokenVerifier;
  /** Secret shared by all instances (derived from the key-encryption key) for cookie signing. */
  cookieSecret: Buffer;
  clients: ClientDirectory;
  apis: ApiDirectory;
  users: UserDirectory;
  /** Every client's grants (issue 9): what it may get tokens for. */
  grants: ClientGrants;
  /** The resource and scope rules of token requests, built on `grants` (resource-grants.ts). */
  rules: ResourceGrants;
  /** Middleware run around every provider request, outermost first (e.g. the client-auth guard). */
  guards: ((ctx: RoutedContext, next: () => Promise<void>) => Promise<void>)[];
  /** Called with the client id whenever a request uses a client (token rate limit). */
  onClientUse?: (clientId: string) => Promise<void>;
  audit: AuditSink;
  pages: Pages;
  /** Client certificates passed on by TLS-terminating proxies (mtls.ts). */
  certificates: ClientCertificates;
}

/** Client authentication by certificate (RFC 8705 §2), offered while mutual TLS is on. */
export const MTLS_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;

/** Access token TTL when an API does not say (the README's "How tokens work": 300 s). */
export const DEFAULT_ACCESS_TOKEN_TTL = 300;

/**
 * Builds the oidc-provider instance. The key set is fixed per instance, so the composition root
 * builds a new one whenever the key ring changes; all state lives in the database.
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const users = requestUsers(deps.db);
  const grants = deps.rules;

  const configuration: Configuration = {
    adapter: createAdapterFactory(deps.db, deps.clients, deps.onClientUse),
    findAccount: createFindAccount(users),
    jwks: { keys: providerSigningKeys(deps.ring.signingKeys()) },
    cookies: { keys: cookieKeys(deps.cookieSecret) },
    claims: CLAIMS as unknown as Configuration['claims'],
    scopes: OIDC_SCOPES,
    responseTypes: ['code'],
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
      ...(deps.certificates.enabled ? MTLS_AUTH_METHODS : []),
    ],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      // One list for the token endpoint and for the proofs /decide and forward-auth check.
      dPoPSigningAlgValues: [...DPOP_ALGORITHMS],
    },
    extraClientMetadata: {
      properties: ['tollgate_roles', 'tollgate_allowed_ips'],
    },
    // OAuth 2.0 Security BCP §2.1.1: PKCE for every client; oidc-provider only knows S256.
    pkce: { required: () => true },
    // RFC 6749 §3.1.2.3 exact matching, and redirect_uri is always required.
    allowOmittingSingleRegisteredRedirectUri: false,
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    features: {
      devInteractions: { enabled: false },
      // RFC 8705, behind a TLS-terminating proxy (mtls.ts): client authentication by certificate
      // and access tokens bound to it (cnf.x5t#S256), checked again at /decide and forward-auth.
      mTLS: {
        enabled: deps.certificates.enabled,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx) => deps.certificates.of(ctx.req),
        certificateAuthorized: (ctx) => deps.certificates.verified(ctx.req),
        certificateSubjectMatches: (ctx, property, expected) => {
          const certificate = deps.certificates.of(ctx.req);
          return certificate !== undefined && certificateSubjectMatches(certificate, property, expected);
        },
      },
      clientCredentials: { enabled: true },
      // Lets the ring's keys sign through node:crypto (signing-keys.ts). Experimental in
      // oidc-provider: a release that changes it refuses to start until the ack is renewed.
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          const { clientId, aud, resource } = token as {
            clientId?: string;
            aud?: unknown;
            resource?: unknown;
          };
          return mayIntrospect(deps.grants, client, {
            clientId,
            audiences: [...audiencesOf(aud), ...audiencesOf(resource)],
          });
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it.
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = deps.pages.logout(form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = deps.pages.logoutSuccess();
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: grants.defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: grants.getResourceServerInfo,
      },
    },
    extraTokenClaims: async (ctx, token) => {
      const audience = token.resourceServer?.audience;
      if (!(await grants.mayCarryRoles(token.clientId, audience))) return undefined;
      if (token.kind === 'ClientCredentials') {
        // The token's own client, not the context's: client-credentials.ts saves tokens outside a
        // request of oidc-provider's. The property itself: metadata() rebuilds every key in snake
        // case, about 20 µs a token.
        const roles = token.client?.tollgate_roles;
        return Array.isArray(roles) && roles.length > 0 ? { roles } : undefined;
      }
      if (token.kind === 'AccessToken' && token.accountId) {
        const user = await users.find(ctx, token.accountId);
        return user && user.roles.length > 0 ? { roles: user.roles } : undefined;
      }
      return undefined;
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = deps.pages.error({
        error: out.error,
        description: out.error_description,
        back: wayBack(ctx.oidc?.client),
      });
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  provider.proxy = false;

  // Client secrets are stored as digests (see common/secrets.ts), so compare digests in
  // constant time instead of oidc-provider's plaintext comparison.
  provider.Client.prototype.compareClientSecret = async function compareDigest(
    this: { clientSecret?: string },
    actual: string,
  ) {
    return typeof this.clientSecret === 'string' && secretMatchesDigest(actual, this.clientSecret);
  };

  answerOutagesWith503(provider);
  answerRefusedValuesWith400(provider, deps.pages);
  for (const guard of deps.guards) provider.use(guard);
  provider.use(handleStructuredTokens(deps.verifier, deps.audit, deps.users, deps.grants));
  auditProviderEvents(provider, deps.audit);
  return provider;
}

/**
 * Where the error page sends the user back to, when the request named a known client: its
 * `initiate_login_uri` (OIDC Core §4, to start a sign-in afresh), else its `client_uri`.
 */
function wayBack(
  client: { clientName?: string; clientId: string; metadata(): Record<string, unknown> } | undefined,
): { href: string; label: string } | undefined {
  if (!client) return undefined;
  const { initiate_login_uri: initiate, client_uri: home } = client.metadata();
  const name = client.clientName ?? client.clientId;
  if (isWebUrl(initiate)) return { href: initiate, label: `Sign in again at ${name}` };
  if (isWebUrl(home)) return { href: home, label: `Back to ${name}` };
  return undefined;
}

/**
 * Keys that sign oidc-provider's cookies. Mounted in our Koa app, the provider sets cookies
 * through the outer app's context, so the outer app must carry the same keys.
 */
export function cookieKeys(cookieSecret: Buffer): string[] {
  return [createHmac('sha256', cookieSecret).update('cookies').digest('base64url')];
}
