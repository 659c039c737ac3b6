import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { migrateToLatest, openDatabase } from '../../src/db/index.ts';
import type { TestDatabase } from './database.ts';
import { freePort } from './net.ts';

const run = promisify(execFile);

/** Debian's cluster tools (postgresql-common), present wherever the PostgreSQL server is. */
export const CLUSTER_TOOLS = existsSync('/usr/bin/pg_createcluster') && existsSync('/etc/postgresql');

export interface Cluster {
  url: string;
  /** A migrated database handle on it, for startTestInstance({ database }). */
  database: TestDatabase;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster of its own (initdb through pg_createcluster, trust auth, loopback, a free
 * port), so a test can stop and start the server without touching anyone else's database.
 */
export async function createCluster(): Promise<Cluster> {
  const version = readdirSync('/etc/postgresql').sort().at(-1) as string;
  const name = `tollgate_${process.pid}_${Date.now()}`;
  const port = await freePort();
  await run('pg_createcluster', [version, name, '--port', String(port), '--start', '--', '--auth=trust']);
  const ctl = (action: string, ...extra: string[]) => run('pg_ctlcluster', [version, name, action, ...extra]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const handle = await openDatabase({ kind: 'postgres', url });
  await migrateToLatest(handle.db);
  return {
    url,
    database: { handle, url, drop: () => handle.close().catch(() => {}) },
    // fast: disconnect every client at once, as a crashed or failed-over primary does.
    stop: async () => {
      await ctl('stop', '-m', 'fast');
    },
    start: async () => {
      await ctl('start');
    },
    async destroy() {
      await handle.close().catch(() => {});
      await run('pg_dropcluster', [version, name, '--stop']).catch(() => {});
    },
  };
}
