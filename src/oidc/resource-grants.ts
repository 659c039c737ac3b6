import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { SigningAlg, SigningKeyRing } from '../keys/index.ts';
import type { ClientGrant, ClientGrants } from './client-grants.ts';
import type { ApiDirectory } from './directories.ts';

/** The OIDC scopes a user login may always ask for; they are not scopes of any API. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile'];

interface ClientLike {
  clientId: string;
}

export interface ResourceGrantDeps {
  apis: ApiDirectory;
  grants: ClientGrants;
  ring: SigningKeyRing;
}

/**
 * What the grant rules read of a token or authorization request: built from oidc-provider's
 * context (resourceGrants' hooks) or, for a client-credentials request answered before it, from
 * the request itself (client-credentials.ts), so both apply the same rules.
 */
export interface GrantRequest {
  clientId: string;
  /** grant_type=client_credentials at the token endpoint. */
  clientCredentials: boolean;
  /** At the token endpoint, where binding requirements are checked (not at authorization). */
  atTokenEndpoint: boolean;
  /** A DPoP proof came with the request. */
  dpop: boolean;
  /** The client's access tokens are bound to its certificate (RFC 8705). */
  certificateBound: boolean;
  /** The scopes asked for (see scopesAsked). */
  scopes: string[];
}

/**
 * Issue 9: a token request is answered from the client's grants, never from scope names matched
 * against whatever API the request names. An API the client holds no grant for is
 * `invalid_target` (RFC 8707 §2), a scope outside that grant `invalid_scope` (RFC 6749 §5.2);
 * nothing is silently dropped. Tollgate's own API is reachable only by client credentials.
 */
export function resourceGrants(deps: ResourceGrantDeps) {
  /** Grants this request may use: user logins never reach Tollgate's own (builtin) API. */
  async function usableGrants(request: GrantRequest): Promise<ClientGrant[]> {
    const grants = await deps.grants.load(request.clientId);
    if (request.clientCredentials) return grants;
    const usable: ClientGrant[] = [];
    for (const grant of grants)
      if ((await deps.apis.find(grant.audience))?.builtin === false) usable.push(grant);
    return usable;
  }

  /** The API a request naming none is for: its only usable grant, or the only one holding its scopes. */
  async function chooseResource(request: GrantRequest): Promise<string | undefined> {
    const grants = await usableGrants(request);
    const wanted = request.clientCredentials
      ? request.scopes
      : request.scopes.filter((s) => !OIDC_SCOPES.includes(s));
    if (grants.length === 1) return grants[0]?.audience;
    if (wanted.length === 0) {
      // A login asking only OIDC scopes gets its opaque userinfo token, as before.
      if (!request.clientCredentials) return undefined;
      throw new errors.InvalidTarget(
        grants.length === 0
          ? 'this client holds no grant for any API'
          : 'resource is required: this client holds grants for several APIs',
      );
    }
    const holding = grants.filter((g) => wanted.some((s) => g.scopes.includes(s)));
    if (holding.length === 1) return holding[0]?.audience;
    if (holding.length === 0) {
      throw new errors.InvalidScope(
        `scope ${wanted.join(' ')} is not granted to this client for any API`,
        wanted.join(' '),
      );
    }
    throw new errors.InvalidTarget(
      `resource is required: scope ${wanted.join(' ')} is granted to this client for several APIs`,
    );
  }

  /** oidc-provider's resource server info for `indicator`, or the OAuth error refusing it. */
  async function resourceServerInfo(request: GrantRequest, indicator: string) {
    const api = await deps.apis.find(indicator);
    if (!api) throw new errors.InvalidTarget(`resource ${indicator} is not a registered API`);
    if (api.builtin && !request.clientCredentials) {
      throw new errors.InvalidTarget(`resource ${indicator} is not available to user logins`);
    }
    // Issue 13: such an API gets DPoP-bound tokens only. A DPoP header present here is
    // validated by the grant before any token is issued (oidc-provider's validateDpop).
    if (api.token_binding === 'dpop' && request.atTokenEndpoint && !request.dpop)
      throw new errors.InvalidRequest(
        `resource ${indicator} accepts only DPoP-bound access tokens: send a DPoP proof (RFC 9449)`,
      );
    // A client whose tokens are bound to its certificate is refused without one (oidc-provider).
    if (api.token_binding === 'mtls' && request.atTokenEndpoint && !request.certificateBound)
      throw new errors.InvalidRequest(
        `resource ${indicator} accepts only certificate-bound access tokens: register the client with tls_client_certificate_bound_access_tokens (RFC 8705)`,
      );
    const grant = (await deps.grants.load(request.clientId)).find((g) => g.audience === api.audience);
    if (!grant) throw new errors.InvalidTarget(`this client holds no grant for resource ${indicator}`);
    const allowed = api.scopes.filter((s) => grant.scopes.includes(s));
    const refused = request.scopes.filter(
      (s) => !allowed.includes(s) && (request.clientCredentials || !OIDC_SCOPES.includes(s)),
    );
    if (refused.length > 0) {
      throw new errors.InvalidScope(
        `scope ${refused.join(' ')} is not granted to this client for ${indicator}`,
        refused.join(' '),
      );
    }
    return {
      scope: allowed.join(' '),
      audience: api.audience,
      accessTokenTTL: api.access_token_ttl,
      accessTokenFormat: 'jwt' as const,
      jwt: { sign: { alg: api.signing_alg, kid: deps.ring.activeKid(api.signing_alg as SigningAlg) } },
    };
  }

  return {
    chooseResource,
    resourceServerInfo,

    /** oidc-provider's resourceIndicators.defaultResource. */
    async defaultResource(
      ctx: KoaContextWithOIDC,
      client: ClientLike,
      oneOf?: readonly string[],
    ): Promise<string | readonly string[] | undefined> {
      return oneOf ?? chooseResource(grantRequest(ctx, client));
    },

    /** oidc-provider's resourceIndicators.getResourceServerInfo. */
    getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: ClientLike) {
      return resourceServerInfo(grantRequest(ctx, client), indicator);
    },

    /** The `roles` claim goes only into audiences the client holds a grant for (issue 9). */
    async mayCarryRoles(clientId: string | undefined, audience: string | undefined): Promise<boolean> {
      if (audience === undefined) return true;
      if (clientId === undefined) return false;
      return (await deps.grants.load(clientId)).some((g) => g.audience === audience);
    },
  };
}

export type ResourceGrants = ReturnType<typeof resourceGrants>;

/** The rules the token endpoint applies, for a request answered before oidc-provider. */
export type GrantRules = Pick<ResourceGrants, 'chooseResource' | 'resourceServerInfo'>;

/** What the grant rules read of a request oidc-provider is serving. */
function grantRequest(ctx: KoaContextWithOIDC, client: ClientLike): GrantRequest {
  const atTokenEndpoint = ctx.oidc.route === 'token';
  return {
    clientId: client.clientId,
    clientCredentials: atTokenEndpoint && ctx.oidc.params?.grant_type === 'client_credentials',
    atTokenEndpoint,
    dpop: Boolean(ctx.get('DPoP')),
    certificateBound: ctx.oidc.client?.tlsClientCertificateBoundAccessTokens === true,
    scopes: scopesAsked(ctx),
  };
}

/**
 * The scopes this request asks for: its `scope` parameter, or at the token endpoint the scopes
 * of the code or refresh token being redeemed, so a grant narrowed since is not silently applied.
 */
function scopesAsked(ctx: KoaContextWithOIDC): string[] {
  const param = ctx.oidc.params?.scope;
  const entities = ctx.oidc.entities as {
    AuthorizationCode?: { scope?: string };
    RefreshToken?: { scope?: string };
  };
  const scope =
    typeof param === 'string'
      ? param
      : (entities.AuthorizationCode?.scope ?? entities.RefreshToken?.scope ?? '');
  return scope.split(' ').filter(Boolean);
}
