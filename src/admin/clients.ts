import type { Kysely } from 'kysely';
import { digestSecret, generateSecret, newId, TollgateError } from '../common/index.ts';
import { apiQueries, clientQueries, type Database, type DatabaseHandle } from '../db/index.ts';
import type { CreateClientInput } from './schemas.ts';

/** OIDC scopes a browser client may always ask for. */
const OIDC_SCOPES = ['openid', 'profile', 'offline_access'];

export interface ClientView {
  client_id: string;
  name: string;
  grant_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  scope: string;
  api: string | null;
  roles: string[];
  created_at: string;
}

export interface ClientUseCases {
  /** `executor` lets a caller run the creation inside its own transaction. */
  create(
    input: CreateClientInput,
    executor?: Kysely<Database>,
  ): Promise<{ client_id: string; client_secret?: string }>;
  list(): Promise<ClientView[]>;
  delete(clientId: string): Promise<void>;
}

export function clientUseCases(
  db: DatabaseHandle,
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>,
  /** Told of every created or deleted client, so caches in front of the table drop it. */
  onChange: (clientId: string) => void = () => {},
): ClientUseCases {
  return {
    async create(input, executor = db.db) {
      const clients = clientQueries(executor);
      const apis = apiQueries(executor);
      if (input.api && !(await apis.findByAudience(input.api))) {
        throw new TollgateError('invalid_request', `api: no API with audience ${input.api}; create it first`);
      }
      const known = new Set([...OIDC_SCOPES, ...(await apis.list()).flatMap((a) => a.scopes)]);
      const unknown = input.scope.filter((s) => !known.has(s));
      if (unknown.length > 0) {
        throw new TollgateError(
          'invalid_request',
          `scope: ${unknown.join(', ')} is not a scope of any API; create the API first`,
        );
      }
      const browser = input.grant_types.includes('authorization_code');
      const authMethod = input.public ? 'none' : (input.token_endpoint_auth_method ?? 'client_secret_basic');
      const secret = authMethod.startsWith('client_secret') ? generateSecret() : undefined;
      const clientId = newId('cl');
      const metadata: Record<string, unknown> = {
        grant_types: browser ? [...input.grant_types, 'refresh_token'] : input.grant_types,
        response_types: browser ? ['code'] : [],
        redirect_uris: input.redirect_uris,
        post_logout_redirect_uris: input.post_logout_redirect_uris,
        token_endpoint_auth_method: authMethod,
        // oidc-provider checks `scope` against its own (OIDC) scopes; API scopes are granted per
        // API from `tollgate_scopes` (see getResourceServerInfo in oidc/provider.ts).
        ...(browser ? { scope: OIDC_SCOPES.join(' ') } : {}),
        tollgate_scopes: input.scope.filter((s) => !OIDC_SCOPES.includes(s)),
        ...(input.jwks ? { jwks: input.jwks } : {}),
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
        default_api: input.api ?? null,
      });
      onChange(clientId);
      return secret ? { client_id: clientId, client_secret: secret } : { client_id: clientId };
    },

    async list() {
      return (await clientQueries(db.db).list()).map((row) => ({
        client_id: row.client_id,
        name: row.name,
        grant_types: row.metadata.grant_types as string[],
        redirect_uris: row.metadata.redirect_uris as string[],
        token_endpoint_auth_method: row.metadata.token_endpoint_auth_method as string,
        scope: [row.metadata.scope, ...((row.metadata.tollgate_scopes as string[]) ?? [])]
          .filter(Boolean)
          .join(' '),
        api: row.default_api,
        roles: row.roles,
        created_at: row.created_at.toISOString(),
      }));
    },

    async delete(clientId) {
      const deleted = await clientQueries(db.db).delete(clientId);
      onChange(clientId);
      if (!deleted) throw new TollgateError('not_found', `client ${clientId} does not exist`);
    },
  };
}
