import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/index.ts';
import { AuditLog } from './audit-log.ts';
import type { FromWriter, ToWriter, WriterInit } from './thread-protocol.ts';

/**
 * The audit writer's thread: its own PostgreSQL pool and an AuditLog doing the buffering,
 * hashing, serializing and inserting, so none of that runs on the thread answering requests.
 * Metrics are summed here and reported to the main thread a few times a second.
 */
const port = parentPort;
if (!port) throw new Error('audit-thread.ts runs as a worker thread');
const { url, options } = workerData as WriterInit;
const post = (message: FromWriter) => port.postMessage(message);

const totals = { depth: 0, dropped: 0, failed: 0, writes: [] as [number, number][] };
let changed = false;
// A write that hangs (a connection half gone in an outage) must fail and be retried, not stop
// the writer: the buffer would grow while nothing is written.
const db = await openDatabase({ kind: 'postgres', url, queryTimeoutMs: 15_000 });
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

port.on('message', (message: ToWriter) => {
  if (message.kind === 'events') {
    for (const { event, at } of message.events) log.record(event, at);
  } else if (message.kind === 'flush') {
    void log.flush().then(() => {
      report();
      post({ kind: 'flushed', id: message.id });
    });
  } else {
    clearInterval(reporting);
    void log
      .close(message.graceMs)
      .then(() => db.close())
      .finally(() => {
        report();
        post({ kind: 'closed' });
      });
  }
});
post({ kind: 'ready' });
