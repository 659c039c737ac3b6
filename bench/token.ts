/**
 * Load benchmark of the token endpoints (not part of `npm test`):
 *
 *   node bench/token.ts [--json] [--profile] [--one-process]
 *
 * In one run, with the same autocannon settings for every target, on each database engine
 * (the embedded default and PostgreSQL; BENCH_DATABASE=embedded|postgres for one of them):
 *
 *   one process (WORKERS=1)  POST /token client_credentials (client_secret_basic, ES256 access
 *                            tokens); POST /token/introspection of such a JWT by its client;
 *                            POST /token refresh_token (each request spends the refresh token
 *                            the previous answer rotated in); POST /token authorization_code
 *                            (codes minted beforehand through a signed-in browser session);
 *   WORKERS=auto             client_credentials and introspection again (PostgreSQL only: the
 *                            embedded database admits one process).
 *
 * Then a bare node:http server (the ceiling), oidc-provider alone issuing the same tokens
 * through its whole token pipeline (Tollgate answers the commonest client-credentials request
 * before that pipeline, with oidc-provider's token model) and a single-threaded `jose`
 * ES256 signing loop: issuance ÷ raw signs/s says how much of the service's time goes to
 * anything but signing. The loop runs again for BENCH_SIGN_SECONDS just before and just after
 * each issuing run (oidc-provider alone's and every client_credentials run), and that run's
 * ratio is taken against both together: this machine's speed drifts by a third within one
 * whole run, and sometimes within one issuing run (both figures are printed). That loop is the
 * issue's reference; Tollgate's own keys sign through node:crypto instead (three to four times
 * as many ES256 signatures per second here, src/oidc/signing-keys.ts), so the report also gives, without a
 * target, issuance ÷ node:crypto's raw signs/s measured once at the start.
 * Tollgate runs with its defaults otherwise (audit log on; no Redis: limits in memory).
 *
 * Targets (issue 14): JWT introspection ≥ 5,000 req/s in one process with p99 ≤ 10 ms;
 * client-credentials issuance ≥ 0.35 × raw signs/s in one process (≥ 0.5 with WORKERS=auto),
 * p99 ≤ 15 ms. Refresh and code redemption are reported without a target.
 *
 * Environment: BENCH_SECONDS (8), BENCH_WARMUP_SECONDS (10), BENCH_CONNECTIONS (10),
 * BENCH_SIGN_SECONDS (5), BENCH_CODES (codes redeemed in the measured code run, 3000),
 * BENCH_ENDPOINTS (a comma-separated subset of client_credentials, introspection, refresh_token,
 * authorization_code), BENCH_DATABASE (both), BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres, a
 * database the user may create databases from).
 *
 * `--profile` runs the one-process instances with `--cpu-prof` and prints, for each endpoint's
 * measured run alone, where the server's CPU went. `--one-process` skips WORKERS=auto. Exits 1
 * when the run failed or a request did not answer 2xx.
 */
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { SERVICE_NODE_FLAGS } from '../src/common/index.ts';
import { firstMessage, startNode, stopChild } from './lib/children.ts';
import { benchCommandLine, benchLifecycle, progress } from './lib/cli.ts';
import { createBenchDatabase } from './lib/database.ts';
import { type BodySource, type LoadResult, type LoadSettings, type LoadTarget, measure } from './lib/load.ts';
import { loadProfiles, summarizeSamples } from './lib/profile.ts';
import { measureNodeSigning, measureSigning, type SignResult } from './lib/sign.ts';
import {
  codeRedemptionBody,
  type IssuedCode,
  provisionTokenBench,
  TOKEN_API,
  type TokenFixtures,
} from './lib/token-fixtures.ts';
import {
  ENDPOINT_NAMES,
  endpointTargets,
  formatTokenReport,
  type InstanceReport,
  type TokenEndpoint,
  type TokenReport,
} from './lib/token-report.ts';
import { basicAuth, startTollgateProcess, type TollgateProcess } from './lib/tollgate.ts';

const commandLine = benchCommandLine(
  'node bench/token.ts [--json] [--profile] [--one-process]',
  ['one-process'],
  { connections: 10 },
);
const { flags, envNumber, serverUrl, usageError } = commandLine;
const settings = {
  ...commandLine.load,
  seconds: envNumber('BENCH_SECONDS', 8, 1),
  // oidc-provider's token pipeline runs a third slower for its first ten seconds or so (JIT).
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 10, 0),
  signSeconds: envNumber('BENCH_SIGN_SECONDS', 5, 1),
  codes: envNumber('BENCH_CODES', 3000, 100),
};
const databases = (() => {
  const chosen = process.env.BENCH_DATABASE || 'both';
  if (chosen === 'both') return ['embedded', 'postgres'] as const;
  if (chosen === 'embedded' || chosen === 'postgres') return [chosen] as const;
  return usageError(`BENCH_DATABASE must be embedded, postgres or both, got "${chosen}"`);
})();

const ALL_ENDPOINTS: TokenEndpoint[] = [
  'client_credentials',
  'introspection',
  'refresh_token',
  'authorization_code',
];
const chosenEndpoints = (() => {
  const raw = process.env.BENCH_ENDPOINTS;
  if (!raw) return ALL_ENDPOINTS;
  const names = raw.split(',');
  const unknown = names.filter((name) => !ALL_ENDPOINTS.includes(name as TokenEndpoint));
  if (unknown.length > 0)
    usageError(`BENCH_ENDPOINTS takes ${ALL_ENDPOINTS.join(', ')}; not ${unknown.join(', ')}`);
  return ALL_ENDPOINTS.filter((name) => names.includes(name));
})();

const lifecycle = benchLifecycle();
const load: LoadSettings = {
  seconds: settings.seconds,
  warmupSeconds: settings.warmupSeconds,
  connections: settings.connections,
};

async function runInstance(
  database: 'embedded' | 'postgres',
  workers: string,
  endpoints: TokenEndpoint[],
): Promise<{ report: InstanceReport; profile?: string }> {
  const db = database === 'postgres' ? await createBenchDatabase(serverUrl) : undefined;
  if (db) lifecycle.onCleanup(() => db.drop());
  const profileDir =
    flags.profile && workers === '1' ? await mkdtemp(join(tmpdir(), 'tollgate-bench-prof-')) : undefined;
  progress(`${database}: starting Tollgate with WORKERS=${workers}`);
  const tollgate = await startTollgateProcess({
    databaseUrl: db?.url,
    workers,
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  lifecycle.onCleanup(() => tollgate.stop());
  const fixtures = await provisionTokenBench(tollgate);
  const results: InstanceReport['endpoints'] = [];
  for (const endpoint of endpoints) {
    lifecycle.checkInterrupted();
    progress(`${database}, WORKERS=${workers}: ${ENDPOINT_NAMES[endpoint]}`);
    // Issuance is held to raw signing measured just before and just after it, on the machine
    // as it is then (its speed can change within the run itself).
    const issuing = endpoint === 'client_credentials';
    const before = issuing ? await signingNow() : undefined;
    const result = await runEndpoint(tollgate, fixtures, endpoint);
    const sign = before && around(before, await signingNow());
    results.push({
      endpoint,
      result,
      ...(sign ? { sign } : {}),
      targets: endpointTargets(endpoint, workers, result, sign),
    });
  }
  await tollgate.stop();
  await db?.drop();
  const report = { database, workers, endpoints: results };
  if (!profileDir) return { report };
  const profiles = await loadProfiles(profileDir);
  const profile = results
    .map(({ endpoint, result }) =>
      summarizeSamples(profiles, {
        title: `${database}, WORKERS=${workers}, ${ENDPOINT_NAMES[endpoint]}`,
        window: result.window,
        requests: result.requests,
        top: 20,
      }),
    )
    .join('\n\n');
  return { report, profile };
}

async function runEndpoint(
  tollgate: TollgateProcess,
  fixtures: TokenFixtures,
  endpoint: TokenEndpoint,
): Promise<LoadResult> {
  const form = (client: { client_id: string; client_secret: string }, url = `${tollgate.url}/token`) => ({
    url,
    method: 'POST' as const,
    headers: {
      authorization: basicAuth(client.client_id, client.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
  });
  const options = { serverPid: tollgate.child.pid as number };
  switch (endpoint) {
    case 'client_credentials': {
      checkAccessToken(await fixtures.machineToken());
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
      return measure({ ...form(fixtures.machine), body }, load, options);
    }
    case 'introspection': {
      const token = await fixtures.machineToken();
      const target: LoadTarget = {
        ...form(fixtures.machine, `${tollgate.url}/token/introspection`),
        body: new URLSearchParams({ token }).toString(),
      };
      await checkIntrospection(target);
      return measure(target, load, options);
    }
    case 'refresh_token': {
      // A few spare tokens per connection: a request cut off at the end of a run loses its one.
      const pool = await fixtures.mintRefreshTokens(settings.connections * 3);
      return measure({ ...form(fixtures.web), bodies: refreshRotation(pool) }, load, options);
    }
    case 'authorization_code': {
      // Codes live 60 s: the warm-up's are minted and spent first, then the measured run's.
      const warmup = await fixtures.mintCodes(Math.max(200, settings.codes / 10), settings.connections);
      await measure(
        { ...form(fixtures.web), bodies: codeRedemptions(warmup, fixtures.redirectUri) },
        { ...load, warmupSeconds: 0, amount: warmup.length },
      );
      progress(`minting ${settings.codes} codes`);
      const codes = await fixtures.mintCodes(settings.codes, settings.connections);
      return measure(
        { ...form(fixtures.web), bodies: codeRedemptions(codes, fixtures.redirectUri) },
        { ...load, warmupSeconds: 0, amount: codes.length },
        options,
      );
    }
  }
}

/** Every request spends a refresh token; a 200 hands its rotated successor back to the pool. */
function refreshRotation(pool: string[]): BodySource {
  return {
    next() {
      const token = pool.shift();
      if (token === undefined) throw new Error('out of refresh tokens: answers were not 200');
      return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString();
    },
    answered(status, body) {
      if (status !== 200) return;
      const rotated = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
      if (rotated) pool.push(rotated);
    },
  };
}

function codeRedemptions(codes: IssuedCode[], redirectUri: string): BodySource {
  let next = 0;
  return {
    next() {
      const issued = codes[next++];
      if (!issued) throw new Error('out of codes');
      return codeRedemptionBody(issued, redirectUri);
    },
    answered() {},
  };
}

/** Before loading: the token must be an ES256 RFC 9068 access token for the bench API. */
function checkAccessToken(token: string): void {
  const header = decodeProtectedHeader(token);
  const claims = decodeJwt(token);
  if (header.alg !== 'ES256' || header.typ !== 'at+jwt' || claims.aud !== TOKEN_API)
    throw new Error(`unexpected access token: ${JSON.stringify({ header, claims })}`);
}

/** Before loading: introspection must find the token active (not a cheap `active: false`). */
async function checkIntrospection(target: LoadTarget): Promise<void> {
  const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
  const answer = (await response.json()) as { active?: boolean; aud?: unknown };
  if (response.status !== 200 || answer.active !== true || answer.aud !== TOKEN_API)
    throw new Error(`introspection answered ${response.status} ${JSON.stringify(answer)}`);
}

async function benchBare(): Promise<LoadResult> {
  const child = startNode(new URL('./lib/bare-server.ts', import.meta.url).pathname);
  const { port } = await firstMessage<{ port: number }>(child, 'bare server');
  progress(`bare node:http server on port ${port}`);
  const result = await measure(
    {
      url: `http://127.0.0.1:${port}/token`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString(),
    },
    load,
  );
  await stopChild(child);
  return result;
}

/**
 * oidc-provider alone issuing the same tokens through its token pipeline
 * (lib/oidc-provider-server.ts), under the same Node flags as the service: what that pipeline
 * costs, which Tollgate's client-credentials path skips (src/oidc/client-credentials.ts).
 */
async function benchOidcProvider(): Promise<LoadResult> {
  const child = startNode(new URL('./lib/oidc-provider-server.ts', import.meta.url).pathname, {
    nodeArgs: [...SERVICE_NODE_FLAGS],
  });
  const { port, ...client } = await firstMessage<{ port: number; client_id: string; client_secret: string }>(
    child,
    'oidc-provider server',
  );
  progress(`oidc-provider alone on port ${port}`);
  const url = `http://127.0.0.1:${port}/token`;
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
  const headers = {
    authorization: basicAuth(client.client_id, client.client_secret),
    'content-type': 'application/x-www-form-urlencoded',
  };
  const first = await fetch(url, { method: 'POST', headers, body });
  checkAccessToken(((await first.json()) as { access_token: string }).access_token);
  const result = await measure({ url, method: 'POST', headers, body }, load, {
    serverPid: child.pid as number,
  });
  await stopChild(child);
  return result;
}

/** Signing measured before and after a run, as one figure (both loops' signatures over their time). */
function around(before: SignResult, after: SignResult): SignResult {
  const signs = before.signs + after.signs;
  const seconds = before.seconds + after.seconds;
  return { signs, seconds, signsPerSecond: signs / seconds, before, after };
}

function signingNow(): Promise<SignResult> {
  progress(`signing ES256 with jose for ${settings.signSeconds} s`);
  return measureSigning(settings.signSeconds);
}

async function main(): Promise<number> {
  const sign = await signingNow();
  progress(`signing ES256 with node:crypto for ${settings.signSeconds} s`);
  const nodeSign = measureNodeSigning(settings.signSeconds);
  const bare = await benchBare();
  const issuing = chosenEndpoints.includes('client_credentials');
  const aloneBefore = issuing ? await signingNow() : undefined;
  const oidcProvider = issuing ? await benchOidcProvider() : undefined;
  const oidcProviderSign = aloneBefore && around(aloneBefore, await signingNow());
  const instances: InstanceReport[] = [];
  const profiles: string[] = [];
  for (const database of databases) {
    const one = await runInstance(database, '1', chosenEndpoints);
    instances.push(one.report);
    if (one.profile) profiles.push(one.profile);
    const auto = chosenEndpoints.filter((e) => e === 'client_credentials' || e === 'introspection');
    // The embedded database admits one process: several workers need PostgreSQL.
    if (!flags['one-process'] && database === 'postgres' && auto.length > 0)
      instances.push((await runInstance(database, 'auto', auto)).report);
  }
  const report: TokenReport = {
    node: process.version,
    cpus: availableParallelism(),
    settings: {
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
      connections: settings.connections,
      signSeconds: settings.signSeconds,
    },
    sign,
    nodeSign,
    bare,
    ...(oidcProvider ? { oidcProvider } : {}),
    ...(oidcProviderSign ? { oidcProviderSign } : {}),
    instances,
    met: instances.every((i) => i.endpoints.every((e) => e.targets.every((t) => t.met))),
  };
  process.stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatTokenReport(report)}\n`,
  );
  for (const profile of profiles) process.stderr.write(`\n${profile}\n`);
  const failed = instances.flatMap((i) =>
    i.endpoints
      .filter((e) => e.result.non2xx > 0 || e.result.errors > 0)
      .map(
        (e) => `${i.database} WORKERS=${i.workers} ${e.endpoint}: ${JSON.stringify(e.result.statusCodes)}`,
      ),
  );
  if (failed.length > 0) {
    progress(`FAILED: answers other than 2xx or connection errors: ${failed.join('; ')}`);
    return 1;
  }
  return 0;
}

lifecycle.run(main);
