import type { MessagePort } from 'node:worker_threads';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DataDirLock } from './data-dir-lock.ts';
import type { ThreadFailureHandler } from './database-thread.ts';
import { type EmbeddedDatabase, startEmbedded } from './embedded.ts';
import { migrateToLatest } from './migrator.ts';
import { pingDatabase } from './queries/health.ts';
import type { Database } from './schema/index.ts';
import { buildTemplate, copyTemplate, DEFAULT_TEMPLATE_CACHE, findTemplate } from './template.ts';
import { ThreadDialect } from './thread-dialect.ts';

export type DatabaseTarget =
  | {
      kind: 'postgres';
      url: string;
      /** Client-side limit on any one query; unset, a query may take as long as it takes. */
      queryTimeoutMs?: number;
    }
  | {
      kind: 'pglite';
      dataDir: string | undefined;
      /**
       * Where the template a new data directory is copied from lives (template.ts); it is built
       * there when missing. Default: this install's cache. `false`: run initdb in place.
       */
      template?: string | false;
      /** The database thread stopped unasked; by default its error is thrown (uncaught). */
      onThreadFailure?: ThreadFailureHandler;
      /** The thread, already being started (startEmbedded): then the options above are its. */
      started?: Promise<EmbeddedDatabase>;
    };

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: DatabaseTarget['kind'];
  /** PostgreSQL: the connection URL, so another thread can open its own pool. */
  url: string | undefined;
  /** Resolves when a trivial query succeeds; used by /readyz. */
  ping(): Promise<void>;
  /** Connection pool usage (PostgreSQL); undefined for the embedded database. */
  poolStats(): { total: number; idle: number; waiting: number; max: number } | undefined;
  /**
   * Calls `onMessage` for every NOTIFY on `channel` (PostgreSQL: a dedicated connection that
   * reconnects after failures; PGlite: in-process). Returns a function that stops listening.
   */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Embedded database only: runs `module` in the database thread, next to PGlite, calling its
   * `runInDatabaseThread(context)` export (DatabaseThreadContext: a handle on the same PGlite,
   * `data` as given, and a port whose other end this resolves with). For work that is mostly
   * queries, so that neither its queries nor its own work run on the thread serving requests.
   */
  runInDatabaseThread?(module: URL, data: unknown): Promise<MessagePort>;
  close(): Promise<void>;
}

// Without this, pg turns int8 (count(*)) into strings; our counts are far below 2^53.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

/**
 * Opens PostgreSQL through `pg`, or the embedded PGlite (one process only; its data dir is
 * created when missing, and `dataDir: undefined` means in memory). The embedded data dir is
 * locked for this process (DataDirLockedError when another holds it) and kept owner-only.
 */
export async function openDatabase(target: DatabaseTarget): Promise<DatabaseHandle> {
  let db: Kysely<Database>;
  let listen: DatabaseHandle['listen'];
  let poolStats: DatabaseHandle['poolStats'] = () => undefined;
  let lock: DataDirLock | undefined;
  let runInDatabaseThread: DatabaseHandle['runInDatabaseThread'];
  if (target.kind === 'postgres') {
    const url = target.url;
    listen = (channel, onMessage) => listenOnPostgres(url, channel, onMessage);
    // A black-holed server must not hold requests for the OS connect timeout (minutes).
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 10,
      connectionTimeoutMillis: 5000,
      ...(target.queryTimeoutMs ? { query_timeout: target.queryTimeoutMs } : {}),
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    // A connection that ends while checked out (the server stopped mid-transaction) emits
    // 'error' on its client, where nothing listens: unhandled, that kills the process or
    // thread. The running query fails with the error anyway, and the pool drops the client.
    pool.on('connect', (client) => client.on('error', () => {}));
    poolStats = () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: pool.options.max,
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const { template } = target;
    const embedded = await (target.started ??
      startEmbedded(target.dataDir, {
        ...(template === false ? {} : { seed: (dir) => seedDataDir(dir, template) }),
        ...(target.onThreadFailure ? { onThreadFailure: target.onThreadFailure } : {}),
      }));
    const { thread } = embedded;
    lock = embedded.lock;
    db = new Kysely<Database>({ dialect: new ThreadDialect(thread) });
    listen = (channel, onMessage) => thread.listen(channel, onMessage);
    runInDatabaseThread = (module, data) => thread.attach(module, data);
  }
  return {
    db,
    kind: target.kind,
    url: target.kind === 'postgres' ? target.url : undefined,
    listen,
    poolStats,
    ...(runInDatabaseThread ? { runInDatabaseThread } : {}),
    ping: () => pingDatabase(db),
    async close() {
      try {
        await db.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * The embedded database's template in `cacheDir` (template.ts), built now when missing: for an
 * install step, so that no first start pays for initdb. Resolves with its data directory.
 */
export function prepareTemplate(cacheDir = DEFAULT_TEMPLATE_CACHE): Promise<string> {
  return buildTemplate(cacheDir, async (dir) => {
    const built = await openDatabase({ kind: 'pglite', dataDir: dir, template: false });
    try {
      await migrateToLatest(built.db);
    } finally {
      await built.close();
    }
  });
}

/**
 * Copies the template into the fresh `dataDir`, building the template first when the cache has
 * none. When that fails (a read-only install, a template replaced mid-copy) `dataDir` is left
 * empty, and PGlite runs initdb in it as it would without a template.
 */
export async function seedDataDir(dataDir: string, template: string | undefined): Promise<void> {
  const cacheDir = template ?? DEFAULT_TEMPLATE_CACHE;
  try {
    copyTemplate(findTemplate(cacheDir) ?? (await prepareTemplate(cacheDir)), dataDir);
  } catch {
    // initdb, below
  }
}

/** LISTEN on a connection of its own, outside the pool; reconnects a second after it drops. */
async function listenOnPostgres(url: string, channel: string, onMessage: (payload: string) => void) {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      if (message.channel === channel) onMessage(message.payload ?? '');
    });
    next.on('error', () => {
      next.end().catch(() => {});
      if (!stopped) retry = setTimeout(() => connect().catch(() => {}), 1000);
    });
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    client = next;
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}
