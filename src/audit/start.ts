import type { DatabaseHandle } from '../db/index.ts';
import { AuditLog, type AuditLogHooks, type AuditLogOptions } from './audit-log.ts';
import type { ChainHead } from './chain.ts';
import { ThreadedAuditLog } from './threaded-audit-log.ts';
import type { AuditSink } from './types.ts';

export interface AuditWriter extends AuditSink {
  flush(): Promise<void>;
  close(graceMs?: number): Promise<void>;
  /** The newest row this writer appended (undefined before its first write). */
  readonly lastWritten: ChainHead | undefined;
}

/**
 * The audit log for this database, its writer off the thread answering requests: on PostgreSQL
 * in a worker thread with a pool of its own; on the embedded database inside the database's
 * thread, next to PGlite (which admits one connection). A handle without a thread (none today)
 * gets the writer in process.
 */
export async function startAuditLog(
  db: DatabaseHandle,
  options: AuditLogOptions,
  hooks: AuditLogHooks,
): Promise<AuditWriter> {
  if (db.url) return ThreadedAuditLog.start(db.url, options, hooks);
  if (db.runInDatabaseThread) {
    const port = await db.runInDatabaseThread(new URL('./database-thread-writer.ts', import.meta.url), {
      options,
    });
    return ThreadedAuditLog.attach(port, options, hooks);
  }
  const log = new AuditLog(db, options, hooks);
  log.start();
  return log;
}
