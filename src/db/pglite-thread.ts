import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import type { DatabaseHandle } from './connect.ts';
import type { Database } from './schema/index.ts';
import {
  type DatabaseThreadContext,
  type DatabaseThreadInit,
  type FromDatabaseThread,
  THREAD_ENTRY,
  type ToDatabaseThread,
  toErrorFields,
} from './thread-protocol.ts';

/**
 * The embedded database's thread: it owns the PGlite instance, whose WASM would otherwise run
 * every query on the thread answering requests. The main thread's Kysely (thread-dialect.ts)
 * sends it one statement at a time; modules it is asked to run (`attach`) get a handle on the
 * same instance, so work that is mostly database work (the audit writer) runs here with no
 * second hop. PGlite's own transaction lock keeps their transactions apart.
 */
const port = parentPort;
if (!port) throw new Error('pglite-thread.ts runs as a worker thread');
const { dataDir } = workerData as DatabaseThreadInit;
const post = (message: FromDatabaseThread) => port.postMessage(message);

// PostgreSQL's WASM stays on V8's baseline compiler (Liftoff). Tiering up sends hot functions to
// the optimizing compiler, and one of them (a 100 KB function, hot from the first queries) takes
// about 600 MB of compiler memory for a second or two after every start: more than the database
// itself holds. Baseline code costs queries some CPU; Tollgate's hot paths answer from memory.
// The flags are process-wide (no other WASM matters here) and read when a module is compiled,
// so setting them before PGlite starts is in time.
setFlagsFromString('--no-wasm-dynamic-tiering');
setFlagsFromString('--no-wasm-tier-up');

// A 32 MB buffer pool instead of PostgreSQL's 128 MB: every page the pool has held stays in
// this process's memory, while the files it caches are in the operating system's page cache
// anyway. bench/peer.ts measured the idle RSS 435 -> 330 MB (under load it barely moved).
const options = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'] };
const pglite = dataDir ? await PGlite.create(dataDir, options) : await PGlite.create(options);

let local: Promise<DatabaseHandle> | undefined;
/**
 * A handle on this thread's PGlite for attached modules; the thread, not they, closes it. Kysely
 * is loaded here, not before PGlite opens: its few hundred modules would delay every start.
 */
function localHandle(): Promise<DatabaseHandle> {
  local ??= (async () => {
    const [{ Kysely, PGliteDialect }, { pingDatabase }] = await Promise.all([
      import('kysely'),
      import('./queries/health.ts'),
    ]);
    const db: Kysely<Database> = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      kind: 'pglite',
      url: undefined,
      poolStats: () => undefined,
      ping: () => pingDatabase(db),
      async listen(channel, onMessage) {
        const stop = await pglite.listen(channel, onMessage);
        return async () => {
          if (!pglite.closed) await stop();
        };
      },
      async close() {},
    } satisfies DatabaseHandle;
  })();
  return local;
}

/**
 * The main thread's one connection. Its transaction is PGlite's exclusive one, as in Kysely's
 * PGlite driver: BEGIN opens `pglite.transaction`, whose callback waits for COMMIT or ROLLBACK,
 * and every statement meanwhile runs in it, while other work on the instance waits.
 */
let open: { tx: Transaction; end: PromiseWithResolvers<void>; closed: Promise<void> } | undefined;

async function begin(): Promise<void> {
  if (open) throw new Error('a transaction is already open on this connection');
  const began = Promise.withResolvers<Transaction>();
  const end = Promise.withResolvers<void>();
  const closed = pglite.transaction(async (tx) => {
    began.resolve(tx);
    await end.promise;
  });
  // A BEGIN that fails settles `closed` before the callback ever runs.
  const tx = await Promise.race([
    began.promise,
    closed.then(() => Promise.reject(new Error('the transaction ended before it began'))),
  ]);
  open = { tx, end, closed };
}

async function finish(commit: boolean): Promise<void> {
  const current = open;
  if (!current) return;
  open = undefined;
  if (commit) {
    current.end.resolve();
    await current.closed;
  } else {
    current.end.reject(new Error('rolled back'));
    await current.closed.catch(() => {});
  }
}

const listeners = new Map<number, () => Promise<void>>();

async function handle(message: ToDatabaseThread): Promise<void> {
  const { id } = message;
  switch (message.kind) {
    case 'query': {
      const result = await (open?.tx ?? pglite).query(message.sql, [...message.parameters], {
        rowMode: 'object',
      });
      post({ kind: 'done', id, rows: result.rows, affectedRows: result.affectedRows });
      return;
    }
    case 'begin':
      await begin();
      break;
    case 'commit':
      await finish(true);
      break;
    case 'rollback':
      await finish(false);
      break;
    case 'listen': {
      const stop = await pglite.listen(message.channel, (payload) =>
        post({ kind: 'notify', listener: id, payload }),
      );
      listeners.set(id, stop);
      break;
    }
    case 'unlisten': {
      const stop = listeners.get(message.listener);
      listeners.delete(message.listener);
      if (stop && !pglite.closed) await stop();
      break;
    }
    case 'attach': {
      const module = (await import(message.module)) as Record<string, unknown>;
      const entry = module[THREAD_ENTRY];
      if (typeof entry !== 'function') throw new Error(`${message.module} exports no ${THREAD_ENTRY}`);
      await (entry as (context: DatabaseThreadContext) => unknown)({
        db: await localHandle(),
        port: message.port,
        data: message.data,
      });
      break;
    }
    case 'close':
      await finish(false);
      await pglite.close();
      break;
  }
  post({ kind: 'done', id });
}

port.on('message', (message: ToDatabaseThread) => {
  handle(message).catch((error: unknown) => {
    post({ kind: 'failed', id: message.id, error: toErrorFields(error) });
  });
});
post({ kind: 'ready' });
