import type { Clock } from '../common/index.ts';
import { type DatabaseHandle, REVOCATION_CHANNEL, revokedTokenQueries, watchChannel } from '../db/index.ts';

export interface RevocationListOptions {
  pollMs: number;
  /**
   * This instance's clock, which token expiry is checked against (default `Date.now`). Only
   * in-memory expiry uses it: what is new in the database is read by the database's clock.
   */
  clock?: Clock;
}

// Rows stamped just before the last read but committed after it (a slow transaction) are
// read again on the next refresh; this is how far back that reaches.
const COMMIT_ORDER_MARGIN_MS = 5000;

/**
 * The JWT denylist held in memory, so that checking it costs no query on the hot path (every
 * /decide with a subject token). Revocations arrive by NOTIFY at once and by polling as a safety
 * net, so every instance sees one within a second.
 */
export class RevocationList {
  readonly #queries: ReturnType<typeof revokedTokenQueries>;
  readonly #db: DatabaseHandle;
  readonly #pollMs: number;
  readonly #clock: Clock;
  readonly #expiresAt = new Map<string, number>();
  /** The database's clock at the last read; undefined until the first. */
  #since: Date | undefined;
  #unwatch: (() => Promise<void>) | undefined;

  constructor(db: DatabaseHandle, options: RevocationListOptions) {
    this.#db = db;
    this.#queries = revokedTokenQueries(db.db);
    this.#pollMs = options.pollMs;
    this.#clock = options.clock ?? Date.now;
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    await this.refresh();
    this.#unwatch = await watchChannel(this.#db, REVOCATION_CHANNEL, {
      pollMs: this.#pollMs,
      refresh: () => this.refresh(),
      onError,
    });
  }

  async stop(): Promise<void> {
    await this.#unwatch?.();
  }

  has(jti: string): boolean {
    const expiresAt = this.#expiresAt.get(jti);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.#clock()) return true;
    this.#expiresAt.delete(jti);
    return false;
  }

  async add(entry: { jti: string; clientId: string; expiresAt: Date }): Promise<void> {
    await this.#queries.add(entry);
    this.#expiresAt.set(entry.jti, entry.expiresAt.getTime());
  }

  /**
   * Reads revocations since the last read. The cursor is the database's own clock, never this
   * instance's: an instance whose clock ran ahead of the database's skipped revocations other
   * instances had just written (issue 9).
   */
  async refresh(): Promise<void> {
    const since = this.#since && new Date(this.#since.getTime() - COMMIT_ORDER_MARGIN_MS);
    const { now, rows } = await this.#queries.revokedSince(since);
    for (const row of rows) this.#expiresAt.set(row.jti, row.expires_at.getTime());
    this.#since = now;
    const local = this.#clock();
    for (const [jti, expiresAt] of this.#expiresAt) if (expiresAt <= local) this.#expiresAt.delete(jti);
  }
}
