/**
 * Load benchmark of the token endpoint (not part of `npm test`):
 *
 *   node bench/token.ts [--json] [--profile]
 *
 * In one run it measures, with the same autocannon settings, POST /token (client_credentials,
 * client_secret_basic, ES256 access tokens) of a Tollgate child process on a fresh PostgreSQL
 * database, and a bare node:http server; then a single-threaded `jose` ES256 signing loop. The
 * ratio token req/s ÷ raw signs/s says how much of the service's time goes to anything but
 * signing; the target is ≥ 0.4.
 *
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (16),
 * BENCH_SIGN_SECONDS (5), BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres, a
 * database the user may create databases from).
 *
 * `--profile` starts Tollgate with `--cpu-prof` and prints the top self-time frames of the
 * token run. Exits 1 when the run failed or a token request did not answer 2xx.
 */
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { firstMessage, startNode, stopChild } from './lib/children.ts';
import { benchCommandLine, benchLifecycle, progress } from './lib/cli.ts';
import { createBenchDatabase } from './lib/database.ts';
import { type LoadResult, type LoadSettings, measure } from './lib/load.ts';
import { summarizeProfile } from './lib/profile.ts';
import { buildReport, formatReport } from './lib/report.ts';
import { measureSigning } from './lib/sign.ts';
import {
  type BenchClient,
  basicAuth,
  provisionBenchClient,
  requestToken,
  startTollgateProcess,
} from './lib/tollgate.ts';

const commandLine = benchCommandLine('node bench/token.ts [--json] [--profile]');
const { flags, envNumber, serverUrl } = commandLine;
const settings = { ...commandLine.load, signSeconds: envNumber('BENCH_SIGN_SECONDS', 5, 1) };

const lifecycle = benchLifecycle();

async function benchToken(load: LoadSettings, profileDir: string | undefined): Promise<LoadResult> {
  const database = await createBenchDatabase(serverUrl);
  lifecycle.onCleanup(() => database.drop());
  progress(`database ${database.name} created`);

  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const tollgate = await startTollgateProcess({ databaseUrl: database.url, nodeArgs });
  lifecycle.onCleanup(() => tollgate.stop());
  const client = await provisionBenchClient(tollgate);
  await checkToken(tollgate.url, client);
  progress(`Tollgate ready at ${tollgate.url}; loading POST /token for ${load.seconds} s`);

  const result = await measure(
    {
      url: `${tollgate.url}/token`,
      method: 'POST',
      headers: {
        authorization: basicAuth(client.client_id, client.client_secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString(),
    },
    load,
  );
  lifecycle.checkInterrupted();
  await tollgate.stop();
  await database.drop();
  return result;
}

/** Before loading: one token must be an ES256 RFC 9068 access token for the bench API. */
async function checkToken(url: string, client: BenchClient): Promise<void> {
  const token = await requestToken(url, client.client_id, client.client_secret, 'read');
  const header = decodeProtectedHeader(token);
  const claims = decodeJwt(token);
  if (header.alg !== 'ES256' || header.typ !== 'at+jwt' || claims.aud !== client.audience) {
    throw new Error(`unexpected access token: ${JSON.stringify({ header, claims })}`);
  }
}

async function benchBare(load: LoadSettings): Promise<LoadResult> {
  const child = startNode(new URL('./lib/bare-server.ts', import.meta.url).pathname);
  const { port } = await firstMessage<{ port: number }>(child, 'bare server');
  progress(`bare node:http server on port ${port}; loading for ${load.seconds} s`);
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
  const result = await measure(
    {
      url: `http://127.0.0.1:${port}/token`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    },
    load,
  );
  await stopChild(child);
  return result;
}

async function main(): Promise<number> {
  const load = {
    seconds: settings.seconds,
    warmupSeconds: settings.warmupSeconds,
    connections: settings.connections,
  };
  const profileDir = flags.profile ? await mkdtemp(join(tmpdir(), 'tollgate-bench-prof-')) : undefined;

  const token = await benchToken(load, profileDir);
  lifecycle.checkInterrupted();
  const bare = await benchBare(load);
  lifecycle.checkInterrupted();
  progress(`signing ES256 with jose for ${settings.signSeconds} s`);
  const sign = await measureSigning(settings.signSeconds);

  const report = buildReport({
    node: process.version,
    cpus: availableParallelism(),
    settings,
    token,
    bare,
    sign,
  });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(report)}\n`);
  }
  if (profileDir) process.stderr.write(`\n${await summarizeProfile(profileDir)}\n`);
  if (token.non2xx > 0 || token.errors > 0) {
    progress(`FAILED: ${token.non2xx} non-2xx responses and ${token.errors} connection errors from /token`);
    return 1;
  }
  return 0;
}

lifecycle.run(main);
