import { restrictNewFileModes } from '../common/private-files.ts';
import { loadConfig } from '../config/index.ts';
import { startEmbedded } from '../db/embedded.ts';
import type { DatabaseHandle } from '../db/index.ts';

/**
 * The embedded database, opened as early as the configuration allows: src/main.ts calls this
 * before it loads the rest of the service, so that PGlite starts (in its own thread, about
 * 0.6 s) while the main thread loads the service's modules (about 0.5 s) instead of after
 * them (docs/architecture.md, section 1). Undefined where there is nothing to open early: PostgreSQL,
 * several workers, or a configuration the service will refuse with its own message. A failure
 * (another process holding DATA_DIR) surfaces where the service awaits the handle, as it would
 * have without this.
 */
export function openDatabaseEarly(): Promise<DatabaseHandle> | undefined {
  // Before PGlite creates a file (issue 9); serve() does it again, harmlessly.
  restrictNewFileModes();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch {
    return undefined;
  }
  const { database } = config;
  if (database.kind !== 'pglite' || config.workers > 1) return undefined;
  const { dataDir, template } = database;
  // The thread starts now, before the database layer (Kysely, pg, the migrations) is loaded.
  const started = startEmbedded(dataDir, {
    seed: async (dir) => (await import('../db/connect.ts')).seedDataDir(dir, template),
  });
  const opening = import('../db/connect.ts').then(({ openDatabase }) =>
    openDatabase({ kind: 'pglite', dataDir, template, started }),
  );
  // Both are awaited later (openDatabase, openStorage); a rejection before then (DATA_DIR held
  // by another process) must not count as unhandled.
  started.catch(() => {});
  opening.catch(() => {});
  return opening;
}
