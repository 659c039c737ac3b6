import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import { isStorableText } from '../common/index.ts';
import { type DatabaseHandle, oidcPayloadQueries } from '../db/index.ts';
import { addressAllowed } from './address-allow-list.ts';
import { type ClientDirectory, clientMetadataForProvider } from './directories.ts';
import { payloadAtRest, payloadFromRest, storageKey } from './stored-payloads.ts';

/** oidc-provider's own wording for reuse, so both detection paths answer alike. */
const REUSE: Record<string, string> = {
  AuthorizationCode: 'authorization code already consumed',
  RefreshToken: 'refresh token already used',
};

/**
 * oidc-provider storage on Kysely. One table holds every model kind; the columns oidc-provider
 * looks things up by (grant id, uid, user code) and the expiry are indexed, so revoking a grant
 * and purging expired rows are index scans, never table scans. Bearer values are stored only as
 * digests (see stored-payloads.ts).
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
      const atRest = payloadAtRest(this.#kind, id, payload);
      await payloads.upsert({ kind: this.#kind, id: storageKey(this.#kind, id), payload: atRest, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (!isPossibleId(id)) return undefined;
      if (this.#kind === 'Client') {
        // Before the lookup, so that made-up client ids meet the same limits as real ones.
        await onClientUse(id);
        const client = await clients.find(id);
        if (!client || !addressAllowed(client.metadata.tollgate_allowed_ips)) return undefined;
        return clientMetadataForProvider(client) as AdapterPayload;
      }
      return this.#fromRest(id, await payloads.find(this.#kind, storageKey(this.#kind, id), new Date()));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (!isPossibleId(userCode)) return undefined;
      return this.#fromRest(undefined, await payloads.findByUserCode(this.#kind, userCode, new Date()));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (!isPossibleId(uid)) return undefined;
      return this.#fromRest(undefined, await payloads.findByUid(this.#kind, uid, new Date()));
    }

    /**
     * Issue 9 §4. oidc-provider checks `consumed` on the row it read and then calls consume(), so
     * N concurrent requests can all pass its check. Here one atomic statement lets exactly one
     * win; every loser is reuse, and is answered as oidc-provider answers reuse it detects
     * itself: the whole grant is revoked (the winner's tokens included) and `invalid_grant`.
     *
     * What an attacker racing the client with a stolen code or refresh token gets: at most one of
     * the two requests succeeds, and whoever wins, the loser revokes the grant. The Grant row is
     * deleted with everything issued under it, and refresh, introspection and userinfo all look
     * the Grant row up (oidc-provider's validateGrant / loadAccessTokenGrant), so a refresh token
     * the winner saves after the revocation is dead on arrival: no branch of the grant survives.
     * The winner keeps only the JWT access token in its response, until it expires (the API's
     * TTL, 5 minutes by default), exactly as after oidc-provider's own reuse detection.
     */
    async consume(id: string): Promise<void> {
      if (!isPossibleId(id)) throw new errors.InvalidGrant(REUSE[this.#kind] ?? 'already consumed');
      const { won, grantId } = await payloads.consume(this.#kind, storageKey(this.#kind, id));
      if (won) return;
      if (grantId) await payloads.revokeGrant(grantId);
      throw new errors.InvalidGrant(REUSE[this.#kind] ?? 'already consumed');
    }

    async destroy(id: string): Promise<void> {
      if (!isPossibleId(id)) return;
      await payloads.destroy(this.#kind, storageKey(this.#kind, id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      if (!isPossibleId(grantId)) return;
      await payloads.revokeByGrantId(grantId);
    }

    #fromRest(
      id: string | undefined,
      stored: { payload: Record<string, unknown>; consumed: boolean } | undefined,
    ) {
      return stored && payloadFromRest(this.#kind, id, stored);
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
