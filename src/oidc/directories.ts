import { LRUCache } from 'lru-cache';
import { type ApiRow, apiQueries, type ClientRow, clientQueries, type DatabaseHandle } from '../db/index.ts';

/**
 * How long a client or API read from the database is trusted. The token endpoint would
 * otherwise pay two queries per request; a change made on this instance takes effect at once
 * (invalidate), one made on another instance within this time.
 */
export const DIRECTORY_TTL_MS = 5000;

export interface Directory<T> {
  find(key: string): Promise<T | undefined>;
  invalidate(key?: string): void;
}

/**
 * A bounded, short-lived cache in front of a lookup; misses are cached too (unknown ids are
 * cheap). `failStatic`: when a reload fails (the database is away), the last value read stays
 * in use until one succeeds.
 */
function cachedDirectory<T extends object>(
  load: (key: string) => Promise<T | undefined>,
  options: { failStatic: boolean },
): Directory<T> {
  const cache = new LRUCache<string, { value: T | undefined }>({
    max: 10_000,
    ttl: DIRECTORY_TTL_MS,
    allowStaleOnFetchRejection: options.failStatic,
    noDeleteOnFetchRejection: options.failStatic,
    fetchMethod: async (key) => ({ value: await load(key) }),
  });
  return {
    async find(key) {
      return (await cache.fetch(key))?.value;
    },
    invalidate(key) {
      if (key === undefined) cache.clear();
      else cache.delete(key);
    },
  };
}

export type ClientDirectory = Directory<ClientRow>;
export type ApiDirectory = Directory<ApiRow>;
export function createClientDirectory(db: DatabaseHandle): ClientDirectory {
  const clients = clientQueries(db.db);
  // The token endpoint does not issue from stale client data: an outage is a 503 there.
  return cachedDirectory((clientId) => clients.find(clientId), { failStatic: false });
}

/**
 * `failStatic`: false for the token endpoint, which does not issue from stale API data; true
 * for /decide and forward-auth, which keep deciding from what they last read through an outage.
 */
export function createApiDirectory(db: DatabaseHandle, options = { failStatic: false }): ApiDirectory {
  const apis = apiQueries(db.db);
  return cachedDirectory((audience) => apis.findByAudience(audience), options);
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
  };
}
