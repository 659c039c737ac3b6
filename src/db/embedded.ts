import { mkdirSync, readdirSync } from 'node:fs';
import { PRIVATE_DIR_MODE, protectDataDir } from '../common/private-files.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { DatabaseThread, type ThreadFailureHandler } from './database-thread.ts';

/** The embedded database's thread, and the lock on its data directory (none in memory). */
export interface EmbeddedDatabase {
  thread: DatabaseThread;
  lock: DataDirLock | undefined;
}

/**
 * Locks `dataDir`, fills it with `seed` when it is fresh, and starts PGlite's thread on it. This
 * module imports little, so that src/main.ts can start the thread before it loads the rest of
 * the service (compose/early-database.ts); connect.ts wraps the result in a DatabaseHandle.
 */
export async function startEmbedded(
  dataDir: string | undefined,
  options: { seed?: (dataDir: string) => Promise<void>; onThreadFailure?: ThreadFailureHandler } = {},
): Promise<EmbeddedDatabase> {
  // The lock and the file modes are this process's business, taken here; PGlite itself runs
  // in a thread of its own, so that its queries never block the event loop.
  let lock: DataDirLock | undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    lock = await lockDataDir(dataDir);
  }
  try {
    if (dataDir && options.seed && readdirSync(dataDir).length === 0) await options.seed(dataDir);
    const thread = await DatabaseThread.start({ dataDir }, options.onThreadFailure);
    // PGlite chmods the files of a new database 0666 whatever the umask (issue 9).
    if (dataDir) protectDataDir(dataDir);
    return { thread, lock };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
