import {
  ChannelFollower,
  type ClientGrantRow,
  clientGrantQueries,
  type DatabaseHandle,
  GRANT_CHANNEL,
} from '../db/index.ts';

/** One API a client may get tokens for, and the scopes of that API it may get (issue 9). */
export interface ClientGrant {
  audience: string;
  scopes: string[];
  /** RFC 7662 §4: may introspect tokens issued for this audience (a resource server). */
  introspect: boolean;
}

/**
 * Every client's grants, held in memory: the admin API re-checks its caller's current grant on
 * every request, and the token endpoint issues from it. Changes arrive by NOTIFY at once and by
 * polling as a safety net, so an ungrant or a client delete takes effect on every instance
 * within a second (at once on the instance that made it, which refreshes before answering).
 */
export class ClientGrants {
  readonly #db: DatabaseHandle;
  readonly #follower: ChannelFollower;
  #byClient = new Map<string, Map<string, ClientGrant>>();
  #started = 0;
  #applied = 0;

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#db = db;
    this.#follower = new ChannelFollower(db, GRANT_CHANNEL, options);
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    const refresh = () => this.refresh();
    await this.#follower.start({ first: refresh, refresh }, onError);
  }

  async stop(): Promise<void> {
    await this.#follower.stop();
  }

  /** Re-reads every grant; a read that started before the one last applied is discarded. */
  async refresh(): Promise<void> {
    const sequence = ++this.#started;
    const rows = await clientGrantQueries(this.#db.db).list();
    if (sequence < this.#applied) return;
    this.#applied = sequence;
    const byClient = new Map<string, Map<string, ClientGrant>>();
    for (const row of rows) {
      const grants = byClient.get(row.client_id) ?? new Map<string, ClientGrant>();
      grants.set(row.audience, toGrant(row));
      byClient.set(row.client_id, grants);
    }
    this.#byClient = byClient;
  }

  /** The client's grants as this instance knows them now. */
  of(clientId: string): ClientGrant[] {
    return [...(this.#byClient.get(clientId)?.values() ?? [])];
  }

  find(clientId: string, audience: string): ClientGrant | undefined {
    return this.#byClient.get(clientId)?.get(audience);
  }

  /** Whether the client's current grant for `audience` includes `scope`. */
  allows(clientId: string, audience: string, scope: string): boolean {
    return this.find(clientId, audience)?.scopes.includes(scope) === true;
  }

  /**
   * For the token endpoint: a client created on another instance a moment ago may not have
   * reached this one yet, so a client without grants here is read from the database once.
   */
  async load(clientId: string): Promise<ClientGrant[]> {
    const known = this.#byClient.get(clientId);
    if (known) return [...known.values()];
    const rows = await clientGrantQueries(this.#db.db).listForClient(clientId);
    return rows.map(toGrant);
  }
}

function toGrant(row: ClientGrantRow): ClientGrant {
  return { audience: row.audience, scopes: row.scopes, introspect: row.introspect };
}
