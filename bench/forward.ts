/**
 * Load benchmark of forward-auth through a real NGINX (not part of `npm test`):
 *
 *   node bench/forward.ts [--json]
 *
 * In one run, with the same autocannon settings for every target, GET /tenants/acme/invoices/42
 * with a real user access token (carol, accountant of acme, logged in through the form):
 *
 *   nginx         NGINX proxying to a bare node:http upstream, no auth_request (the baseline);
 *   nginx+auth    the same NGINX server block of examples/nginx.conf: auth_request to
 *                 Tollgate's /decide/forward/nginx, then the upstream;
 *   forward       Tollgate's /decide/forward/nginx asked directly, as NGINX asks it (reference);
 *   upstream      the bare upstream alone (reference).
 *
 * Before loading, the allowed request must answer 200 through NGINX with the decision headers
 * at the upstream, and another tenant's invoice 403; during the load every answer must be 2xx.
 * Reports req/s, p50/p99 and each ratio to NGINX without auth_request.
 *
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (16),
 * BENCH_WORKERS (1, Tollgate), BENCH_NGINX_WORKERS (1), BENCH_DATABASE_URL.
 */
import { nginxBinary, startNginx } from '../test/helpers/nginx.ts';
import { firstMessage, startNode } from './lib/children.ts';
import { benchCommandLine, benchLifecycle, progress } from './lib/cli.ts';
import { createBenchDatabase } from './lib/database.ts';
import { provisionDecide, USER_API } from './lib/decide-setup.ts';
import { type LoadResult, measure } from './lib/load.ts';
import { adminApi, startTollgateProcess } from './lib/tollgate.ts';

const commandLine = benchCommandLine('node bench/forward.ts [--json]');
const { flags, serverUrl, usageError, envNumber } = commandLine;
const load = commandLine.load;
const nginxWorkers = envNumber('BENCH_NGINX_WORKERS', 1, 1);
const lifecycle = benchLifecycle();
const PATH = '/tenants/acme/invoices/42';

interface Row {
  key: string;
  name: string;
  result: LoadResult;
  ratio: number;
}

async function main(): Promise<number> {
  const binary = nginxBinary();
  if (!binary) usageError('nginx is not installed (Debian package nginx)');

  const database = await createBenchDatabase(serverUrl);
  lifecycle.onCleanup(() => database.drop());
  const tollgate = await startTollgateProcess({
    databaseUrl: database.url,
    workers: process.env.BENCH_WORKERS || '1',
    env: { SUBJECT_TOKEN_AUDIENCES: USER_API },
  });
  lifecycle.onCleanup(() => tollgate.stop());
  const fixtures = await provisionDecide(tollgate);
  const gateway = await (await adminApi(tollgate))('/gateways', { name: 'bench-nginx', apis: [USER_API] });
  const key = String(gateway.key);

  const upstream = startNode(new URL('./lib/bare-server.ts', import.meta.url).pathname);
  const { port: upstreamPort } = await firstMessage<{ port: number }>(upstream, 'upstream');
  const nginx = await startNginx({
    binary: binary as string,
    tollgateUrl: tollgate.url,
    upstreamPort,
    gatewayKey: key,
    workers: nginxWorkers,
  });
  lifecycle.onCleanup(() => nginx.stop());
  progress(
    `Tollgate ${tollgate.url}, NGINX ${nginx.url} (auth) and ${nginx.plainUrl} (plain), upstream :${upstreamPort}`,
  );

  const user = { authorization: `Bearer ${fixtures.userToken}` };
  const allowed = await fetch(`${nginx.url}${PATH}`, { headers: user });
  const denied = await fetch(`${nginx.url}/tenants/globex/invoices/42`, { headers: user });
  if (allowed.status !== 200 || denied.status !== 403)
    throw new Error(`through NGINX: allowed → ${allowed.status}, other tenant → ${denied.status}`);

  const targets: [string, string, string, Record<string, string>][] = [
    ['nginx', 'NGINX → upstream (no auth_request)', `${nginx.plainUrl}${PATH}`, user],
    ['nginx+auth', 'NGINX + auth_request → Tollgate → upstream', `${nginx.url}${PATH}`, user],
    [
      'forward',
      'ref: Tollgate /decide/forward/nginx directly',
      `${tollgate.url}/decide/forward/nginx`,
      { ...user, 'x-tollgate-gateway-key': key, 'x-original-method': 'GET', 'x-original-uri': PATH },
    ],
    ['upstream', 'ref: bare upstream directly', `http://127.0.0.1:${upstreamPort}${PATH}`, {}],
  ];
  const results = new Map<string, { name: string; result: LoadResult }>();
  for (const [rowKey, name, url, headers] of targets) {
    lifecycle.checkInterrupted();
    progress(`${rowKey}: loading ${url} for ${load.seconds} s`);
    results.set(rowKey, { name, result: await measure({ url, method: 'GET', headers }, load) });
  }
  const baseline = results.get('nginx')?.result.rps ?? Number.NaN;
  const rows: Row[] = [...results].map(([rowKey, { name, result }]) => ({
    key: rowKey,
    name,
    result,
    ratio: result.rps / baseline,
  }));
  const failures = rows
    .filter((row) => row.result.non2xx > 0 || row.result.errors > 0)
    .map(
      (row) =>
        `${row.key}: ${row.result.non2xx} non-2xx ${JSON.stringify(row.result.statusCodes)}, ${row.result.errors} errors`,
    );

  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ settings: { ...load, nginxWorkers }, rows, failures }, null, 2)}\n`,
    );
  } else {
    const lines = [
      `Forward-auth through NGINX — ${load.seconds} s per target after ${load.warmupSeconds} s warm-up, ${load.connections} connections; NGINX ${nginxWorkers} worker(s), Tollgate WORKERS=${process.env.BENCH_WORKERS || '1'}; Node ${process.version}`,
      '',
      `${'target'.padEnd(48)}${'req/s'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'÷ nginx'.padStart(9)}${'non-2xx'.padStart(9)}`,
      ...rows.map(
        (row) =>
          `${row.name.padEnd(48)}${Math.round(row.result.rps).toString().padStart(8)}${row.result.p50.toFixed(2).padStart(8)}${row.result.p99.toFixed(2).padStart(8)}${row.ratio.toFixed(3).padStart(9)}${String(row.result.non2xx + row.result.errors).padStart(9)}`,
      ),
      '',
      ...failures.map((f) => `FAILED ${f}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return failures.length > 0 ? 1 : 0;
}

lifecycle.run(main);
