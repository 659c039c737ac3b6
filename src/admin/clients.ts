import type { Kysely } from 'kysely';
import { digestSecret, generateSecret, newId, TollgateError } from '../common/index.ts';
import {
  apiQueries,
  type ClientGrantRow,
  type ClientRow,
  clientGrantQueries,
  clientQueries,
  type Database,
  type DatabaseHandle,
} from '../db/index.ts';
import { resolveGrants } from './grants.ts';
import { type CreateClientInput, type GrantInput, TLS_CLIENT_AUTH_SUBJECTS } from './schemas.ts';

/** OIDC scopes a browser client may always ask for. */
export const OIDC_SCOPES = ['openid', 'profile', 'offline_access'];

export interface GrantView {
  api: string;
  scopes: string[];
  introspect: boolean;
}

export interface ClientView {
  client_id: string;
  name: string;
  grant_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  application_type: 'web' | 'native';
  /** The OIDC scopes a browser client may ask for; API scopes are in `grants`. */
  scope: string;
  grants: GrantView[];
  roles: string[];
  /** RFC 8705: its access tokens are bound to its certificate. */
  tls_client_certificate_bound_access_tokens: boolean;
  /** tls_client_auth: the certificate subject it is registered with (one of these). */
  tls_client_auth_subject_dn?: string;
  tls_client_auth_san_dns?: string;
  tls_client_auth_san_uri?: string;
  tls_client_auth_san_ip?: string;
  tls_client_auth_san_email?: string;
  created_at: string;
}

export interface ClientUseCases {
  /**
   * `executor` lets a caller run the creation inside its own transaction. Then the change is not
   * announced (`onChange`): it is not committed yet, and announcing it would read the grants
   * outside that transaction (on the embedded database, waiting for it: a deadlock).
   */
  create(
    input: CreateClientInput,
    executor?: Kysely<Database>,
  ): Promise<{ client_id: string; client_secret?: string }>;
  list(): Promise<ClientView[]>;
  get(clientId: string): Promise<ClientView | undefined>;
  delete(clientId: string): Promise<void>;
  /** Grants or replaces the client's scopes of one API; returns the grant before and after. */
  grant(clientId: string, input: GrantInput): Promise<{ before?: GrantView; after: GrantView }>;
  /** Takes one API away from the client; returns the grant it had. */
  ungrant(clientId: string, api: string): Promise<GrantView>;
}

export function clientUseCases(
  db: DatabaseHandle,
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>,
  /**
   * Told of every change to a client or its grants, and awaited, so caches and the in-memory
   * grants drop it before the change is reported done.
   */
  onChange: (clientId: string) => void | Promise<void> = () => {},
): ClientUseCases {
  const grantsOf = async (clientId: string) =>
    (await clientGrantQueries(db.db).listForClient(clientId)).map(grantView);

  return {
    async create(input, executor) {
      const clients = clientQueries(executor ?? db.db);
      const browser = input.grant_types.includes('authorization_code');
      const grants = await resolveGrants(apiQueries(executor ?? db.db), input, browser ? OIDC_SCOPES : []);
      const authMethod = input.public ? 'none' : (input.token_endpoint_auth_method ?? 'client_secret_basic');
      const secret = authMethod.startsWith('client_secret') ? generateSecret() : undefined;
      const clientId = newId('cl');
      const applicationType = input.application_type ?? (isLoopbackApp(input) ? 'native' : 'web');
      const metadata: Record<string, unknown> = {
        // oidc-provider lets a native client's loopback redirect URI vary only in its port.
        ...(applicationType === 'native' ? { application_type: 'native' } : {}),
        grant_types: browser ? [...input.grant_types, 'refresh_token'] : input.grant_types,
        response_types: browser ? ['code'] : [],
        redirect_uris: input.redirect_uris,
        post_logout_redirect_uris: input.post_logout_redirect_uris,
        ...(input.client_uri ? { client_uri: input.client_uri } : {}),
        ...(input.initiate_login_uri ? { initiate_login_uri: input.initiate_login_uri } : {}),
        token_endpoint_auth_method: authMethod,
        // oidc-provider checks `scope` against its own (OIDC) scopes; API scopes are granted per
        // API from client_grants (see oidc/resource-grants.ts).
        ...(browser ? { scope: OIDC_SCOPES.join(' ') } : {}),
        ...(input.jwks ? { jwks: input.jwks } : {}),
        ...tlsMetadata(input),
        ...(input.allowed_ips.length > 0 ? { tollgate_allowed_ips: input.allowed_ips } : {}),
      };
      try {
        await validateMetadata({
          ...metadata,
          client_id: clientId,
          ...(secret ? { client_secret: 'x' } : {}),
        });
      } catch (error) {
        const description = (error as { error_description?: string }).error_description ?? String(error);
        throw new TollgateError('invalid_request', `client metadata: ${description}`);
      }
      await clients.insert({
        client_id: clientId,
        name: input.name,
        secret_digest: secret ? digestSecret(secret) : null,
        metadata,
        roles: input.roles,
      });
      for (const grant of grants) {
        await clientGrantQueries(executor ?? db.db).upsert({
          client_id: clientId,
          audience: grant.api,
          scopes: grant.scopes,
          introspect: grant.introspect,
        });
      }
      if (!executor) await onChange(clientId);
      return secret ? { client_id: clientId, client_secret: secret } : { client_id: clientId };
    },

    async list() {
      const grants = new Map<string, GrantView[]>();
      for (const row of await clientGrantQueries(db.db).list()) {
        grants.set(row.client_id, [...(grants.get(row.client_id) ?? []), grantView(row)]);
      }
      return (await clientQueries(db.db).list()).map((row) =>
        clientView(row, grants.get(row.client_id) ?? []),
      );
    },

    async get(clientId) {
      const row = await clientQueries(db.db).find(clientId);
      return row && clientView(row, await grantsOf(clientId));
    },

    async delete(clientId) {
      // Its grants go with it (ON DELETE CASCADE); other instances hear of it on the grant channel.
      const deleted = await clientQueries(db.db).delete(clientId);
      if (deleted) await clientGrantQueries(db.db).notify(clientId);
      await onChange(clientId);
      if (!deleted) throw new TollgateError('not_found', `client ${clientId} does not exist`);
    },

    async grant(clientId, input) {
      if (!(await clientQueries(db.db).find(clientId)))
        throw new TollgateError('not_found', `client ${clientId} does not exist`);
      const [after] = await resolveGrants(apiQueries(db.db), { grants: [input], scope: [] }, [], true);
      if (!after) throw new TollgateError('invalid_request', 'api: is required');
      const before = (await grantsOf(clientId)).find((g) => g.api === after.api);
      await clientGrantQueries(db.db).upsert({
        client_id: clientId,
        audience: after.api,
        scopes: after.scopes,
        introspect: after.introspect,
      });
      await onChange(clientId);
      return before ? { before, after } : { after };
    },

    async ungrant(clientId, api) {
      const before = (await grantsOf(clientId)).find((g) => g.api === api);
      if (!before || !(await clientGrantQueries(db.db).delete(clientId, api)))
        throw new TollgateError('not_found', `client ${clientId} holds no grant for ${api}`);
      await onChange(clientId);
      return before;
    },
  };
}

function clientView(row: ClientRow, grants: GrantView[]): ClientView {
  return {
    client_id: row.client_id,
    name: row.name,
    grant_types: row.metadata.grant_types as string[],
    redirect_uris: row.metadata.redirect_uris as string[],
    token_endpoint_auth_method: row.metadata.token_endpoint_auth_method as string,
    application_type: row.metadata.application_type === 'native' ? 'native' : 'web',
    scope: typeof row.metadata.scope === 'string' ? row.metadata.scope : '',
    grants,
    roles: row.roles,
    tls_client_certificate_bound_access_tokens:
      row.metadata.tls_client_certificate_bound_access_tokens === true,
    ...tlsMetadata(row.metadata as Partial<CreateClientInput>),
    created_at: row.created_at.toISOString(),
  };
}

/** The RFC 8705 metadata given: the registered certificate subject, and binding when asked for. */
function tlsMetadata(input: Partial<CreateClientInput>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(TLS_CLIENT_AUTH_SUBJECTS) as (keyof typeof TLS_CLIENT_AUTH_SUBJECTS)[])
    if (typeof input[name] === 'string') out[name] = input[name];
  if (input.tls_client_certificate_bound_access_tokens === true)
    out.tls_client_certificate_bound_access_tokens = true;
  return out;
}

// RFC 8252 §7.3 and §8.3: loopback IP literals, not `localhost`, spelled as registered.
const LOOPBACK_IP_REDIRECT = /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?\//;

/** A public client coming back only to loopback IP addresses: a native app (RFC 8252 §7.3). */
function isLoopbackApp(input: CreateClientInput): boolean {
  return (
    input.public &&
    input.redirect_uris.length > 0 &&
    input.redirect_uris.every((uri) => LOOPBACK_IP_REDIRECT.test(uri))
  );
}

function grantView(row: ClientGrantRow): GrantView {
  return { api: row.audience, scopes: row.scopes, introspect: row.introspect };
}
