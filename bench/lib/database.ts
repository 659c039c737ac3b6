import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A throw-away PostgreSQL database for one benchmark run. */
export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates `tollgate_bench_<random>` on the server behind `serverUrl` (a database the user may
 * create databases from). `drop()` removes it, terminating any connection still open.
 */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `tollgate_bench_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    name,
    url: url.toString(),
    // Every caller (normal end, failure, signal) waits for the same single drop.
    drop() {
      dropping ??= withClient(serverUrl, (client) =>
        client.query(`drop database if exists ${name} with (force)`),
      );
      return dropping;
    },
  };
}

async function withClient(url: string, run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}
