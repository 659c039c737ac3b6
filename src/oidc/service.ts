import type { Middleware } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import { type DatabaseHandle, oidcPayloadQueries, revokedTokenQueries } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import { AccessTokenVerifier } from './access-token-verifier.ts';
import type { ClientGrants } from './client-grants.ts';
import {
  type ApiDirectory,
  type ClientDirectory,
  createApiDirectory,
  createClientDirectory,
} from './directories.ts';
import { buildProvider } from './provider.ts';
import type { RevocationList } from './revocation-list.ts';

export interface OidcServiceDeps {
  issuer: string;
  db: DatabaseHandle;
  ring: SigningKeyRing;
  cookieSecret: Buffer;
  revocations: RevocationList;
  /** Every client's grants, kept in step with the database (see client-grants.ts). */
  grants: ClientGrants;
  /** Kept across provider rebuilds, so their state (e.g. failure counters) survives key rotation. */
  guards?: ((ctx: never, next: () => Promise<void>) => Promise<void>)[];
  onClientUse?: (clientId: string) => Promise<void>;
  onProviderEvent?: (event: string, detail: Record<string, unknown>) => void;
  audit: AuditSink;
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
  readonly #deps: OidcServiceDeps;
  #provider!: Provider;
  #mounted!: Middleware;

  constructor(deps: OidcServiceDeps) {
    this.#deps = deps;
    this.verifier = new AccessTokenVerifier(deps);
    this.clients = createClientDirectory(deps.db);
    this.apis = createApiDirectory(deps.db);
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
      verifier: this.verifier,
      clients: this.clients,
      apis: this.apis,
    });
    const emit = this.#deps.onProviderEvent;
    if (emit) {
      provider.on('server_error', (_ctx, error) => emit('server_error', { err: error }));
      provider.on('grant.error', (_ctx, error) => emit('grant.error', { err: error.message }));
    }
    this.#provider = provider;
    this.#mounted = mount(provider as never) as Middleware;
  }
}

/**
 * Deletes expired codes, sessions, grants, refresh tokens and denylist entries, so the tables
 * stay proportional to live state (unbounded token tables are a known pain of Hydra users).
 */
export async function purgeExpired(
  db: DatabaseHandle,
  now = new Date(),
): Promise<{ payloads: number; revoked: number }> {
  const payloads = await oidcPayloadQueries(db.db).purgeExpired(now);
  const revoked = await revokedTokenQueries(db.db).purgeExpired(now);
  return { payloads, revoked };
}
