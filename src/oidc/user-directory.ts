import { LRUCache } from 'lru-cache';
import {
  ChannelFollower,
  type DatabaseHandle,
  USER_CHANNEL,
  type UserRow,
  userQueries,
} from '../db/index.ts';
import { DIRECTORY_TTL_MS } from './directories.ts';

/** `now()` is a transaction's start, not its commit: changes may appear late by this much. */
const COMMIT_MARGIN_MS = 5000;

/** What a verified access token's subject is now. */
export type TokenSubject =
  | { kind: 'client' }
  | { kind: 'user'; user: UserRow }
  /** Deleted, disabled, or disabled since the token was issued (issue 9). */
  | { kind: 'gone' };

/**
 * Users as /decide, forward-auth and introspection see them: read through a short-lived cache
 * that keeps its last value through a database outage ("fail static"), and dropped from the
 * cache on every instance when a user is deleted, disabled or enabled — at once on the
 * instance that made the change, on the others by NOTIFY (polling the change log as a safety
 * net). A user changed since last read is refused until a read succeeds, so a user known to be
 * gone stays refused through an outage.
 */
export class UserDirectory {
  readonly #queries: ReturnType<typeof userQueries>;
  readonly #follower: ChannelFollower;
  readonly #cache: LRUCache<string, { value: UserRow | undefined }>;
  /** Users changed since they were last read, with the generation of the change (bounded). */
  readonly #changed = new LRUCache<string, number>({ max: 100_000 });
  #generation = 0;
  #cursor = new Date(0);
  /** Changes already applied within the commit margin, so polling applies each one once. */
  readonly #applied = new Map<string, number>();

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#queries = userQueries(db.db);
    this.#follower = new ChannelFollower(db, USER_CHANNEL, options);
    this.#cache = new LRUCache({
      max: 10_000,
      ttl: DIRECTORY_TTL_MS,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      fetchMethod: async (id) => ({ value: await this.#queries.find(id) }),
    });
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    // The cache fills on demand; only changes from now on need following.
    const first = async () => {
      this.#cursor = await this.#queries.now();
    };
    await this.#follower.start({ first, refresh: () => this.refresh() }, onError);
  }

  async stop(): Promise<void> {
    await this.#follower.stop();
  }

  /** Reads the change log since the last change seen and drops those users from the cache. */
  async refresh(): Promise<void> {
    const since = this.#cursor.getTime() - COMMIT_MARGIN_MS;
    for (const change of await this.#queries.changesAfter(new Date(since))) {
      const at = change.changed_at.getTime();
      const key = `${change.user_id}@${at}`;
      if (this.#applied.has(key)) continue;
      this.#applied.set(key, at);
      this.invalidate(change.user_id);
      if (at > this.#cursor.getTime()) this.#cursor = change.changed_at;
    }
    for (const [key, at] of this.#applied) if (at < since) this.#applied.delete(key);
  }

  /** Forgets what is known of a user; the next lookup must read the database. */
  invalidate(id: string): void {
    this.#generation += 1;
    this.#changed.set(id, this.#generation);
    this.#cache.delete(id);
  }

  /** The user as last read; undefined for no such user (or one changed and unreadable since). */
  async find(id: string): Promise<UserRow | undefined> {
    const generation = this.#changed.get(id);
    if (generation === undefined) return (await this.#cache.fetch(id))?.value;
    let row: UserRow | undefined;
    try {
      row = await this.#queries.find(id);
    } catch {
      return undefined;
    }
    if (this.#changed.get(id) === generation) {
      this.#changed.delete(id);
      this.#cache.set(id, { value: row });
    }
    return row;
  }

  /**
   * Who a verified access token speaks for now. Client-credentials tokens carry the client id
   * as `sub` (RFC 9068 §2.2, oidc-provider's JWT format) and have no user behind them.
   */
  async tokenSubject(payload: { sub?: unknown; client_id?: unknown; iat?: unknown }): Promise<TokenSubject> {
    if (payload.sub === payload.client_id) return { kind: 'client' };
    const user = typeof payload.sub === 'string' ? await this.find(payload.sub) : undefined;
    if (!user || user.disabled) return { kind: 'gone' };
    const issuedAt = typeof payload.iat === 'number' ? payload.iat * 1000 : 0;
    if (user.tokens_valid_after && issuedAt < user.tokens_valid_after.getTime()) return { kind: 'gone' };
    return { kind: 'user', user };
  }
}
