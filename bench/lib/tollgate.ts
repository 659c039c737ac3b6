import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_FLAGS } from '../../src/common/index.ts';
import { assertRunning, freePort, startNode, stopChild } from './children.ts';
import type { ProcessCpus } from './cpu.ts';

const root = resolve(import.meta.dirname, '../..');

/** A Tollgate child process on its own database and data directory. */
export interface TollgateProcess {
  url: string;
  /** Unauthenticated GET /metrics (METRICS_PORT). */
  metricsUrl: string;
  child: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

/** A confidential client_credentials client for a benchmark API. */
export interface BenchClient {
  audience: string;
  client_id: string;
  client_secret: string;
}

/**
 * Starts `node src/main.ts` as a child, so the load generator does not share its event loop,
 * and waits until /readyz answers 200. It runs with the Node flags `npm start` gives it
 * (SERVICE_NODE_FLAGS); `nodeArgs` lets a caller add e.g. `--cpu-prof`.
 */
export async function startTollgateProcess(options: {
  /** Undefined: the embedded database (PGlite) in the child's DATA_DIR. */
  databaseUrl: string | undefined;
  nodeArgs?: string[];
  cwd?: string;
  /** WORKERS for the child; default BENCH_WORKERS or `auto`. */
  workers?: string;
  /** More environment for the child (e.g. SUBJECT_TOKEN_AUDIENCES). */
  env?: Record<string, string>;
  /** Run it under `taskset -c` on these CPUs (bench/lib/cpu.ts). */
  cpus?: ProcessCpus;
}): Promise<TollgateProcess> {
  const port = await freePort();
  const metricsPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const child = startNode(join(root, 'src/main.ts'), {
    nodeArgs: [...SERVICE_NODE_FLAGS, ...(options.nodeArgs ?? [])],
    cwd: options.cwd ?? root,
    ...(options.cpus ? { cpus: options.cpus } : {}),
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      PORT: String(port),
      // Scraped around measured runs without a token (bench/lib/metrics.ts).
      METRICS_PORT: String(metricsPort),
      ISSUER: url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      // The load is one client on purpose; its per-client limit must not be what is measured.
      TOKEN_RATE_LIMIT: '1000000000',
      // By default one worker per core, as a production instance on this machine would run.
      WORKERS: options.workers ?? process.env.BENCH_WORKERS ?? 'auto',
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ...options.env,
    },
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopChild(child).then(() => rm(dataDir, { recursive: true, force: true }));
    return stopping;
  };
  try {
    await waitReady(url, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, child, dataDir, stop };
}

/** Polls /readyz every `pollMs` until it answers 200 (bench/startup.ts polls finely: it times this). */
export async function waitReady(
  url: string,
  child: ChildProcess,
  { timeoutMs = 60_000, pollMs = 100 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    assertRunning(child, 'Tollgate');
    const status = await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(pollMs);
  }
  throw new Error(`Tollgate at ${url} was not ready within ${timeoutMs / 1000} s`);
}

/** `Authorization: Basic` for client_secret_basic (RFC 6749 §2.3.1: form-encode, then base64). */
export function basicAuth(clientId: string, secret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** `POST /admin<path>` with a JSON body; resolves with the JSON answer, throws unless 201. */
export type AdminCall = (path: string, body: unknown) => Promise<Record<string, unknown>>;

/** A token with scope `admin` for the admin client in `tollgate`'s DATA_DIR/admin.json. */
export async function adminToken(tollgate: TollgateProcess): Promise<string> {
  const admin = JSON.parse(await readFile(join(tollgate.dataDir, 'admin.json'), 'utf8')) as {
    client_id: string;
    client_secret: string;
  };
  return requestToken(tollgate.url, admin.client_id, admin.client_secret, 'admin');
}

/** The admin API of `tollgate`, authenticated with the admin client from DATA_DIR/admin.json. */
export async function adminApi(tollgate: TollgateProcess): Promise<AdminCall> {
  const token = await adminToken(tollgate);
  return async (path, body) => {
    const response = await fetch(`${tollgate.url}/admin${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (response.status !== 201)
      throw new Error(`POST /admin${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** Creates an ES256 API and a confidential client_credentials client for it. */
export async function provisionBenchClient(tollgate: TollgateProcess): Promise<BenchClient> {
  const adminCall = await adminApi(tollgate);
  const audience = 'https://bench.tollgate.test';
  await adminCall('/apis', { audience, scopes: ['read'], alg: 'ES256', ttl: 300 });
  const client = await adminCall('/clients', {
    name: 'bench',
    grant_types: ['client_credentials'],
    scope: 'read',
    api: audience,
  });
  return { audience, client_id: String(client.client_id), client_secret: String(client.client_secret) };
}

/** One client_credentials token request; throws with the server's answer when it is not 200. */
export async function requestToken(
  url: string,
  clientId: string,
  secret: string,
  scope: string,
): Promise<string> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token) {
    throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.access_token;
}
