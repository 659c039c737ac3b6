import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PGliteAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import type { DatabaseThread } from './database-thread.ts';

/**
 * Kysely on the embedded database in its own thread: PostgreSQL's SQL, and PGlite's adapter,
 * which tells Kysely there is one connection (Kysely then lets one caller at a time use it, and
 * a transaction holds it until it ends) and that migrations need no lock beyond that.
 */
export class ThreadDialect implements Dialect {
  readonly #thread: DatabaseThread;

  constructor(thread: DatabaseThread) {
    this.#thread = thread;
  }

  createAdapter(): DialectAdapter {
    return new PGliteAdapter();
  }

  createDriver(): Driver {
    return new ThreadDriver(this.#thread);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/** Modelled on Kysely's PGlite driver; the thread opens and ends transactions the same way. */
class ThreadDriver implements Driver {
  readonly #thread: DatabaseThread;
  readonly #connection: ThreadConnection;

  constructor(thread: DatabaseThread) {
    this.#thread = thread;
    this.#connection = new ThreadConnection(thread);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {}

  async beginTransaction(): Promise<void> {
    await this.#thread.request({ kind: 'begin' });
  }

  async commitTransaction(): Promise<void> {
    await this.#thread.request({ kind: 'commit' });
  }

  async rollbackTransaction(): Promise<void> {
    await this.#thread.request({ kind: 'rollback' });
  }

  async destroy(): Promise<void> {
    await this.#thread.close();
  }
}

class ThreadConnection implements DatabaseConnection {
  readonly #thread: DatabaseThread;

  constructor(thread: DatabaseThread) {
    this.#thread = thread;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { rows, affectedRows } = await this.#thread.request({
      kind: 'query',
      sql: compiledQuery.sql,
      parameters: compiledQuery.parameters,
    });
    return {
      numAffectedRows: affectedRows != null ? BigInt(affectedRows) : undefined,
      rows: (rows ?? []) as R[],
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is refused, as by Kysely's PGlite driver
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming is not supported by PGlite.');
  }
}
