import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/index.ts';
import type { WriterInit } from './thread-protocol.ts';
import { serveAuditWriter } from './writer-service.ts';

/**
 * The audit writer's thread on PostgreSQL: its own pool and the writer (writer-service.ts), so
 * none of the buffering, hashing, serializing and inserting runs on the thread answering requests.
 */
const port = parentPort;
if (!port) throw new Error('audit-thread.ts runs as a worker thread');
const { url, options } = workerData as WriterInit;
// A write that hangs (a connection half gone in an outage) must fail and be retried, not stop
// the writer: the buffer would grow while nothing is written.
const db = await openDatabase({ kind: 'postgres', url, queryTimeoutMs: 15_000 });
serveAuditWriter(db, options, port, () => db.close());
