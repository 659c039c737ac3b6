import type { DatabaseThreadContext } from '../../src/db/index.ts';

// Run in the database thread by the thread dialect's tests: ends that thread, as a crash in
// PGlite would, once the queries a test sent ahead of it have reached the thread.
export function runInDatabaseThread({ data }: DatabaseThreadContext): void {
  setTimeout(() => process.exit(7), (data as { afterMs: number }).afterMs);
}
