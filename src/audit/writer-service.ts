import type { MessagePort } from 'node:worker_threads';
import type { DatabaseHandle } from '../db/index.ts';
import { AuditLog, type AuditLogOptions } from './audit-log.ts';
import { deliverHandoff } from './handoff.ts';
import type { FromWriter, ToWriter } from './thread-protocol.ts';

/**
 * The writer's side of ThreadedAuditLog, in whichever thread runs it (audit-thread.ts on
 * PostgreSQL, the embedded database's thread otherwise): an AuditLog on `db` doing the
 * buffering, MACs, serializing and inserting, fed and asked through `port`. Metrics are summed
 * here and reported a few times a second. `closed` runs once the log is closed, before the
 * answer, e.g. to close a database this thread opened for the writer alone.
 */
export function serveAuditWriter(
  db: DatabaseHandle,
  options: AuditLogOptions,
  port: MessagePort,
  closed: () => Promise<void> = async () => {},
): void {
  const post = (message: FromWriter) => port.postMessage(message);
  const totals = { depth: 0, dropped: 0, failed: 0, writes: [] as [number, number][] };
  let changed = false;
  const log = new AuditLog(db, options, {
    metrics: {
      depth: (value) => {
        totals.depth = value;
        changed = true;
      },
      dropped: (count) => {
        totals.dropped += count;
        changed = true;
      },
      written: (rows, seconds) => {
        totals.writes.push([rows, seconds]);
        changed = true;
      },
      failed: () => {
        totals.failed += 1;
        changed = true;
      },
    },
    onError: (error) =>
      post({ kind: 'error', message: error instanceof Error ? error.message : String(error) }),
    onTampering: (detail) => post({ kind: 'tampering', detail }),
  });
  log.start();

  function report(): void {
    if (!changed) return;
    post({ kind: 'metrics', ...totals, writes: totals.writes.splice(0), head: log.lastWritten });
    totals.dropped = 0;
    totals.failed = 0;
    changed = false;
  }
  const reporting = setInterval(report, 200);
  // The database thread lives as long as its database, not as long as this timer.
  reporting.unref();

  port.on('message', (message: ToWriter) => {
    if (message.kind === 'events') {
      deliverHandoff(message.items, log);
    } else if (message.kind === 'flush') {
      void log.flush().then(() => {
        report();
        post({ kind: 'flushed', id: message.id });
      });
    } else {
      clearInterval(reporting);
      void log
        .close(message.graceMs)
        .then(closed)
        .finally(() => {
          report();
          post({ kind: 'closed' });
        });
    }
  });
  post({ kind: 'ready' });
}
