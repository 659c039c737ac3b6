import type { Adapter, AdapterPayload } from 'oidc-provider';
import { type DatabaseHandle, oidcPayloadQueries } from '../db/index.ts';
import { addressAllowed } from './address-allow-list.ts';
import { type ClientDirectory, clientMetadataForProvider } from './directories.ts';

/**
 * oidc-provider storage on Kysely. One table holds every model kind; the columns oidc-provider
 * looks things up by (grant id, uid, user code) and the expiry are indexed, so revoking a grant
 * and purging expired rows are index scans, never table scans.
 */
export function createAdapterFactory(
  db: DatabaseHandle,
  clients: Pick<ClientDirectory, 'find'>,
  /**
   * Runs when oidc-provider looks a client up for a request, before the lookup and before the
   * client authenticates (the client-auth guard, the token rate limit's check); may throw.
   */
  onClientUse: (clientId: string) => Promise<void> = async () => {},
) {
  const payloads = oidcPayloadQueries(db.db);

  class KyselyAdapter implements Adapter {
    readonly #kind: string;

    constructor(kind: string) {
      this.#kind = kind;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      await payloads.upsert({ kind: this.#kind, id, payload: payload as Record<string, unknown>, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.#kind === 'Client') {
        // Before the lookup, so that made-up client ids meet the same limits as real ones.
        await onClientUse(id);
        const client = await clients.find(id);
        if (!client || !addressAllowed(client.metadata.tollgate_allowed_ips)) return undefined;
        return clientMetadataForProvider(client) as AdapterPayload;
      }
      return toPayload(await payloads.find(this.#kind, id, new Date()));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(await payloads.findByUserCode(this.#kind, userCode, new Date()));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(await payloads.findByUid(this.#kind, uid, new Date()));
    }

    async consume(id: string): Promise<void> {
      await payloads.consume(this.#kind, id, new Date());
    }

    async destroy(id: string): Promise<void> {
      await payloads.destroy(this.#kind, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await payloads.revokeByGrantId(grantId);
    }
  }
  return KyselyAdapter;
}

function toPayload(stored: { payload: Record<string, unknown>; consumed: boolean } | undefined) {
  if (!stored) return undefined;
  // oidc-provider only tests `consumed` for truthiness (refresh-token reuse detection).
  return (stored.consumed ? { ...stored.payload, consumed: true } : stored.payload) as AdapterPayload;
}
