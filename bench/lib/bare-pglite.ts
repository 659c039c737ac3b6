/**
 * The floor for bench/startup.ts: `node bench/lib/bare-pglite.ts DIR` opens a bare PGlite on DIR
 * (initdb when DIR is empty) in a worker thread, as Tollgate does, runs `select 1`, tells the
 * parent over IPC, and stays open until the parent ends it. No Tollgate code is loaded.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

if (isMainThread) {
  const dir = process.argv[2];
  if (!dir || !process.send)
    throw new Error('usage: node bench/lib/bare-pglite.ts DIR (with an IPC channel)');
  const worker = new Worker(new URL(import.meta.url), { workerData: dir });
  worker.once('error', (error) => {
    throw error;
  });
  worker.once('message', () => process.send?.('ready'));
  worker.once('exit', (code) => process.exit(code));
  process.once('SIGTERM', () => worker.postMessage('close'));
} else {
  const pglite = await PGlite.create(workerData as string);
  await pglite.query('select 1');
  parentPort?.postMessage('ready');
  parentPort?.once('message', async () => {
    await pglite.close();
    process.exit(0);
  });
}
