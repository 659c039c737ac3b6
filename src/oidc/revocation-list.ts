import { type DatabaseHandle, REVOCATION_CHANNEL, revokedTokenQueries, watchChannel } from '../db/index.ts';

/**
 * The JWT denylist held in memory, so that checking it costs no query on the hot path (every
 * /decide with a subject token). Revocations arrive by NOTIFY at once and by polling as a safety
 * net, so every instance sees one within a second.
 */
export class RevocationList {
  readonly #queries: ReturnType<typeof revokedTokenQueries>;
  readonly #db: DatabaseHandle;
  readonly #pollMs: number;
  readonly #expiresAt = new Map<string, number>();
  #since = new Date(0);
  #unwatch: (() => Promise<void>) | undefined;

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#db = db;
    this.#queries = revokedTokenQueries(db.db);
    this.#pollMs = options.pollMs;
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
    if (expiresAt > Date.now()) return true;
    this.#expiresAt.delete(jti);
    return false;
  }

  async add(entry: { jti: string; clientId: string; expiresAt: Date }): Promise<void> {
    await this.#queries.add(entry);
    this.#expiresAt.set(entry.jti, entry.expiresAt.getTime());
  }

  /** Reads revocations since the last read (with a margin for clock and commit-order skew). */
  async refresh(): Promise<void> {
    const now = new Date();
    const since = new Date(this.#since.getTime() - 5000);
    const rows = await this.#queries.revokedSince(since, now);
    for (const row of rows) this.#expiresAt.set(row.jti, row.expires_at.getTime());
    this.#since = now;
    for (const [jti, expiresAt] of this.#expiresAt)
      if (expiresAt <= now.getTime()) this.#expiresAt.delete(jti);
  }
}
