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
