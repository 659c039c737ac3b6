import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { AdminCredentials } from '../../src/admin/index.ts';
import { REDACT_PATHS, startTollgate, type Tollgate } from '../../src/compose/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEV_KEY_FILE } from '../../src/keys/index.ts';
import { joinTestDatabase, openTestDatabase, type TestDatabase } from './database.ts';
import { freePort } from './net.ts';
import { requestToken } from './tokens.ts';

export { freePort };

export interface TestInstance {
  url: string;
  issuer: string;
  dataDir: string;
  admin: AdminCredentials;
  tollgate: Tollgate;
  database: TestDatabase;
  /** Every log line the instance wrote, for assertions (and secret scans). */
  logs: string[];
  adminToken(): Promise<string>;
  /** fetch against /admin with a fresh admin token; JSON bodies are encoded. */
  admin$(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A real Tollgate over real HTTP on 127.0.0.1, on its own database (PGlite copy or a fresh
 * PostgreSQL database). `env` overrides configuration variables.
 */
export async function startTestInstance(
  env: Record<string, string> = {},
  options: {
    shareWith?: TestInstance;
    database?: TestDatabase;
    clock?: () => number;
    /** Followers' polling interval besides NOTIFY (the instance's default when unset). */
    pollMs?: number;
  } = {},
): Promise<TestInstance> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-data-'));
  const first = options.shareWith;
  // A second instance on the first one's PostgreSQL database, issuer and key-encryption key,
  // as a horizontally scaled deployment runs.
  const database =
    options.database ?? (first ? await joinTestDatabase(first.database) : await openTestDatabase());
  if (first && existsSync(join(first.dataDir, DEV_KEY_FILE))) {
    copyFileSync(join(first.dataDir, DEV_KEY_FILE), join(dataDir, DEV_KEY_FILE));
  }
  const config = loadConfig({
    PORT: String(port),
    ISSUER: first?.issuer ?? `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    // The drain waits for the test's own pooled connections; the shutdown test runs it for real.
    SHUTDOWN_DRAIN_MS: '0',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const tollgate = await startTollgate(config, {
    logger,
    db: database.handle,
    host: '127.0.0.1',
    clock: options.clock,
    pollMs: options.pollMs,
  });
  const admin =
    first?.admin ?? (JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as AdminCredentials);

  async function adminToken(): Promise<string> {
    const response = await requestToken(tollgate.url, admin, { scope: 'admin' });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`admin token request failed: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  return {
    url: tollgate.url,
    issuer: config.issuer,
    dataDir,
    admin,
    tollgate,
    database,
    logs,
    adminToken,
    async admin$(method, path, body) {
      return fetch(`${tollgate.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await adminToken()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    async close() {
      await tollgate.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
