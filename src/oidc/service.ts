import type { Middleware } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import { type DatabaseHandle, oidcPayloadQueries, revokedTokenQueries, userQueries } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import { AccessTokenVerifier } from './access-token-verifier.ts';
import type { RoutedContext } from './address-allow-list.ts';
import { createClientCredentials } from './client-credentials.ts';
import type { ClientGrants } from './client-grants.ts';
import {
  type ApiDirectory,
  type ClientDirectory,
  createApiDirectory,
  createClientDirectory,
} from './directories.ts';
import { createJwtIntrospection } from './jwt-introspection.ts';
import type { ClientCertificates } from './mtls.ts';
import { buildProvider } from './provider.ts';
import { type ResourceGrants, resourceGrants } from './resource-grants.ts';
import type { RevocationList } from './revocation-list.ts';
import type { UserDirectory } from './user-directory.ts';
import type { Pages } from './views.ts';

export interface OidcServiceDeps {
  issuer: string;
  db: DatabaseHandle;
  ring: SigningKeyRing;
  cookieSecret: Buffer;
  revocations: RevocationList;
  /** Users as tokens see them (introspection); the admin use cases invalidate it on change. */
  users: UserDirectory;
  /** Every client's grants, kept in step with the database (see client-grants.ts). */
  grants: ClientGrants;
  /** Kept across provider rebuilds, so their state (e.g. failure counters) survives key rotation. */
  guards?: ((ctx: RoutedContext, next: () => Promise<void>) => Promise<void>)[];
  onClientUse?: (clientId: string) => Promise<void>;
  onProviderEvent?: (event: string, detail: Record<string, unknown>) => void;
  audit: AuditSink;
  /** The branded pages: logout and error pages come from the provider. */
  pages: Pages;
  /** Client certificates passed on by TLS-terminating proxies (mtls.ts). */
  certificates: ClientCertificates;
  /**
   * Seconds a client must wait at an address for its failed authentications (client-auth-guard.ts).
   * Required, as `tokenLimit` is: the requests answered before the provider would pass unguarded.
   */
  authWait: (clientId: string, ip: string) => Promise<number>;
  /** The token rate limit, for client credentials answered before the provider (token-rate-limit.ts). */
  tokenLimit: { wait(clientId: string): Promise<number>; charge(clientId: string): Promise<void> };
}

/**
 * Owns the current oidc-provider instance. oidc-provider's key set is fixed at construction,
 * so a key-ring change (rotation published, key activated or retired) swaps in a fresh instance;
 * requests already inside the old one finish there.
 */
export class OidcService {
  readonly verifier: AccessTokenVerifier;
  /** Cached client and API lookups; the admin use cases invalidate them on change. */
  readonly clients: ClientDirectory;
  readonly apis: ApiDirectory;
  /**
   * The same API rows for /decide and forward-auth (which require binding): through a database
   * outage they keep the last rows read, as the rest of the decision point does.
   */
  readonly decisionApis: ApiDirectory;
  /** JWT introspection without the provider, when the request allows it (jwt-introspection.ts). */
  readonly introspectJwt: ReturnType<typeof createJwtIntrospection>;
  /** Client-credentials tokens without the provider's pipeline, when the request allows it (client-credentials.ts). */
  readonly issueClientCredentials: ReturnType<typeof createClientCredentials>;
  readonly #deps: OidcServiceDeps;
  readonly #rules: ResourceGrants;
  #provider!: Provider;
  #mounted!: Middleware;

  constructor(deps: OidcServiceDeps) {
    this.#deps = deps;
    this.verifier = new AccessTokenVerifier(deps);
    this.clients = createClientDirectory(deps.db);
    this.apis = createApiDirectory(deps.db);
    this.decisionApis = createApiDirectory(deps.db, { failStatic: true });
    this.#rules = resourceGrants({ apis: this.apis, grants: deps.grants, ring: deps.ring });
    this.introspectJwt = createJwtIntrospection({
      clients: this.clients,
      verifier: this.verifier,
      users: deps.users,
      grants: deps.grants,
      authWait: deps.authWait,
    });
    this.issueClientCredentials = createClientCredentials({
      clients: this.clients,
      authWait: deps.authWait,
      provider: () => this.#provider,
      rules: this.#rules,
      tokenWait: deps.tokenLimit.wait,
      charge: deps.tokenLimit.charge,
      audit: deps.audit,
    });
    this.#rebuild();
    deps.ring.on('change', () => this.#rebuild());
  }

  get provider(): Provider {
    return this.#provider;
  }

  /** Koa middleware that hands the request to the current provider. */
  middleware(): Middleware {
    return (ctx, next) => this.#mounted(ctx, next);
  }

  #rebuild(): void {
    const provider = buildProvider({
      ...this.#deps,
      guards: this.#deps.guards ?? [],
      rules: this.#rules,
      verifier: this.verifier,
      clients: this.clients,
      apis: this.apis,
    });
    const emit = this.#deps.onProviderEvent;
    if (emit) {
      provider.on('server_error', (ctx, error) => emit('server_error', { ...whoAsked(ctx), err: error }));
      provider.on('grant.error', (ctx, error) =>
        emit('grant.error', { ...whoAsked(ctx), err: error.message }),
      );
    }
    this.#provider = provider;
    this.#mounted = mount(provider) as Middleware;
  }
}

/**
 * Deletes expired codes, sessions, grants, refresh tokens and denylist entries, so the tables
 * stay proportional to live state (unbounded token tables are a known pain of Hydra users).
 */
export async function purgeExpired(
  db: DatabaseHandle,
  now?: Date,
): Promise<{ payloads: number; revoked: number }> {
  const payloads = await oidcPayloadQueries(db.db).purgeExpired(now ?? new Date());
  // Denylist entries go by the database's clock, as every instance reads them (issue 9).
  const revoked = await revokedTokenQueries(db.db).purgeExpired(now);
  // The user change log only bridges missed notifications; an hour is far beyond any poll.
  await userQueries(db.db).purgeChanges(new Date((now ?? new Date()).getTime() - 3600_000));
  return { payloads, revoked };
}

/**
 * The request and client an oidc-provider event belongs to, so its log line can be matched with
 * the request's own line (reqId) and with the client's complaint (client_id, authenticated or
 * as the request named it).
 */
function whoAsked(ctx: KoaContextWithOIDC): { reqId?: unknown; client_id?: unknown } {
  const reqId = (ctx.state as { requestId?: unknown } | undefined)?.requestId;
  const clientId = ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id;
  return {
    ...(reqId === undefined ? {} : { reqId }),
    ...(clientId === undefined ? {} : { client_id: clientId }),
  };
}
