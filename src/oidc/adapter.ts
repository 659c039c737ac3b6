import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isStorableText } from '../common/index.ts';
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
  /** Runs when a client is looked up for a request (e.g. the token rate limit); may throw. */
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
      if (!isPossibleId(id)) return undefined;
      if (this.#kind === 'Client') {
        const client = await clients.find(id);
        if (!client || !addressAllowed(client.metadata.tollgate_allowed_ips)) return undefined;
        await onClientUse(client.client_id);
        return clientMetadataForProvider(client) as AdapterPayload;
      }
      return toPayload(await payloads.find(this.#kind, id, new Date()));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (!isPossibleId(userCode)) return undefined;
      return toPayload(await payloads.findByUserCode(this.#kind, userCode, new Date()));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (!isPossibleId(uid)) return undefined;
      return toPayload(await payloads.findByUid(this.#kind, uid, new Date()));
    }

    async consume(id: string): Promise<void> {
      if (!isPossibleId(id)) return;
      await payloads.consume(this.#kind, id, new Date());
    }

    async destroy(id: string): Promise<void> {
      if (!isPossibleId(id)) return;
      await payloads.destroy(this.#kind, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      if (!isPossibleId(grantId)) return;
      await payloads.revokeByGrantId(grantId);
    }
  }
  return KyselyAdapter;
}

/**
 * Ids, uids, user codes and client ids come straight from requests (`client_id=%00`,
 * `token=%00`). One that could never have been stored names nothing: "not found" without a
 * query, since PostgreSQL refuses NUL outright (issue 9). Stored ids are at most a few hundred
 * characters; anything longer is not one either.
 */
function isPossibleId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= MAX_ID_LENGTH && isStorableText(id);
}

const MAX_ID_LENGTH = 4096;

function toPayload(stored: { payload: Record<string, unknown>; consumed: boolean } | undefined) {
  if (!stored) return undefined;
  // oidc-provider only tests `consumed` for truthiness (refresh-token reuse detection).
  return (stored.consumed ? { ...stored.payload, consumed: true } : stored.payload) as AdapterPayload;
}
