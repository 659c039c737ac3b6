import type { DatabaseHandle } from './connect.ts';

/**
 * Keeps in-memory state in step with the database: `refresh` runs on every NOTIFY on `channel`
 * (at once) and every `pollMs` (a safety net for missed notifications and for reconnects).
 * Returns a function that stops both.
 */
export async function watchChannel(
  db: DatabaseHandle,
  channel: string,
  options: { pollMs: number; refresh: () => Promise<void>; onError: (error: unknown) => void },
): Promise<() => Promise<void>> {
  const run = () => {
    options.refresh().catch(options.onError);
  };
  const unlisten = await db.listen(channel, run);
  const timer = setInterval(run, options.pollMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await unlisten();
  };
}

/**
 * One piece of in-memory state following the database on `channel`: `start` reads it once, then
 * refreshes on every NOTIFY and every `pollMs` (see watchChannel); `stop` ends both. Shared by
 * everything an instance keeps in step with the database (grants, users, gateway keys).
 */
export class ChannelFollower {
  readonly #db: DatabaseHandle;
  readonly #channel: string;
  readonly #pollMs: number;
  #unwatch: (() => Promise<void>) | undefined;

  constructor(db: DatabaseHandle, channel: string, options: { pollMs: number }) {
    this.#db = db;
    this.#channel = channel;
    this.#pollMs = options.pollMs;
  }

  async start(
    steps: { first: () => Promise<void>; refresh: () => Promise<void> },
    onError: (error: unknown) => void,
  ): Promise<void> {
    await steps.first();
    this.#unwatch = await watchChannel(this.#db, this.#channel, {
      pollMs: this.#pollMs,
      refresh: steps.refresh,
      onError,
    });
  }

  async stop(): Promise<void> {
    await this.#unwatch?.();
  }
}
