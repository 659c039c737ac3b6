import { type ClientRow, clientQueries, type DatabaseHandle } from '../db/index.ts';

export interface ClientDirectory {
  find(clientId: string): Promise<ClientRow | undefined>;
}

export function createClientDirectory(db: DatabaseHandle): ClientDirectory {
  return clientQueries(db.db);
}

/**
 * Client metadata as oidc-provider wants it. `client_secret` carries only the digest; the
 * provider's secret comparison is replaced to compare digests (see provider.ts).
 */
export function clientMetadataForProvider(row: ClientRow): Record<string, unknown> {
  return {
    ...row.metadata,
    client_id: row.client_id,
    client_name: row.name,
    ...(row.secret_digest ? { client_secret: row.secret_digest } : {}),
    tollgate_roles: row.roles,
    tollgate_default_api: row.default_api ?? undefined,
  };
}
