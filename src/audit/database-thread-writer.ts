import type { DatabaseThreadContext } from '../db/index.ts';
import type { AuditLogOptions } from './audit-log.ts';
import { serveAuditWriter } from './writer-service.ts';

/**
 * The audit writer on the embedded database, run inside the database's own thread
 * (DatabaseHandle.runInDatabaseThread): next to PGlite, so a batch costs the request thread
 * neither its queries nor its MACs and JSON, and no second thread hop. The database layer only
 * runs a module it is given with a port; what runs is the audit log's business, so db never
 * imports audit.
 */
export function runInDatabaseThread({ db, port, data }: DatabaseThreadContext): void {
  serveAuditWriter(db, (data as { options: AuditLogOptions }).options, port);
}
