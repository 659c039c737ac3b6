import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { TEST_DATABASE_URL } from './database.ts';

const INIT_ROLES = resolve(import.meta.dirname, '../../deploy/postgres/init-roles.sh');

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs deploy/postgres/init-roles.sh with bash and psql against the test server, as the
 * postgres image would: POSTGRES_USER and POSTGRES_DB name the superuser connection.
 */
export function runInitRoles(env: Record<string, string>): Promise<ScriptRun> {
  if (!TEST_DATABASE_URL) throw new Error('TOLLGATE_TEST_DATABASE_URL is not set');
  const server = new URL(TEST_DATABASE_URL);
  const user = decodeURIComponent(server.username) || 'postgres';
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
    PGUSER: user,
    POSTGRES_USER: user,
    POSTGRES_DB: decodeURIComponent(server.pathname.slice(1)) || 'postgres',
  };
  if (server.password) base.PGPASSWORD = decodeURIComponent(server.password);
  return new Promise((done) => {
    execFile('bash', [INIT_ROLES], { env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** The test server's URL for `database` as `user` (with `password`). */
export function serverUrl(database: string, user?: string, password?: string): string {
  if (!TEST_DATABASE_URL) throw new Error('TOLLGATE_TEST_DATABASE_URL is not set');
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${encodeURIComponent(database)}`;
  if (user !== undefined) {
    url.username = encodeURIComponent(user);
    url.password = password === undefined ? '' : encodeURIComponent(password);
  }
  return url.toString();
}

/** A statement as the test server's superuser, on `database` (the server's own by default). */
export async function asSuperuser<T extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  database?: string,
): Promise<T[]> {
  if (!TEST_DATABASE_URL) throw new Error('TOLLGATE_TEST_DATABASE_URL is not set');
  const client = new pg.Client({
    connectionString: database === undefined ? TEST_DATABASE_URL : serverUrl(database),
  });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface Deployment {
  owner: string;
  service: string;
  database: string;
  ownerPassword: string;
  servicePassword: string;
  /** MIGRATION_DATABASE_URL. */
  ownerUrl: string;
  /** DATABASE_URL. */
  serviceUrl: string;
  /** Another database owned by the owner role, which the service may connect to; dropped with the rest. */
  createDatabase(): Promise<{ name: string; ownerUrl: string; serviceUrl: string }>;
  /** Drops the databases, then the roles (roles are cluster-wide: names are unique per run). */
  drop(): Promise<void>;
}

/**
 * The roles and database of a deployment, made by init-roles.sh with names unique to this run.
 * The service role's name holds a space and a capital, so every layer must quote it.
 */
export async function createDeployment(): Promise<Deployment> {
  const suffix = randomBytes(4).toString('hex');
  const owner = `tg_owner_${suffix}`;
  const service = `Tg service_${suffix}`;
  const database = `tg_db_${suffix}`;
  // Quotes, a backslash and a dollar: psql variables must carry them as they are.
  const ownerPassword = `o'wner"\\$${suffix}`;
  const servicePassword = `s'ervice $x ${suffix}`;
  const databases = [database];
  const run = await runInitRoles({
    TOLLGATE_OWNER_ROLE: owner,
    TOLLGATE_SERVICE_ROLE: service,
    TOLLGATE_DB: database,
    TOLLGATE_OWNER_PASSWORD: ownerPassword,
    TOLLGATE_SERVICE_PASSWORD: servicePassword,
  });
  const drop = async () => {
    for (const name of databases) await asSuperuser(`drop database if exists "${name}" with (force)`);
    await asSuperuser(`drop role if exists "${service}"`);
    await asSuperuser(`drop role if exists "${owner}"`);
  };
  if (run.code !== 0) {
    await drop();
    throw new Error(`init-roles.sh failed (${run.code}): ${run.stderr}`);
  }
  return {
    owner,
    service,
    database,
    ownerPassword,
    servicePassword,
    ownerUrl: serverUrl(database, owner, ownerPassword),
    serviceUrl: serverUrl(database, service, servicePassword),
    async createDatabase() {
      const name = `tg_db_${randomBytes(4).toString('hex')}`;
      databases.push(name);
      await asSuperuser(`create database "${name}" owner "${owner}"`);
      await asSuperuser(`grant connect on database "${name}" to "${service}"`);
      return {
        name,
        ownerUrl: serverUrl(name, owner, ownerPassword),
        serviceUrl: serverUrl(name, service, servicePassword),
      };
    },
    drop,
  };
}
