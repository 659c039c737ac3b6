/**
 * Load benchmark of the decision endpoint (not part of `npm test`):
 *
 *   node bench/decide.ts [--json] [--profile] [--auto-workers]
 *
 * In one run, with the same autocannon settings for every target: a bare node:http server
 * answering a fixed JSON (the ceiling), then POST /decide of a Tollgate child process on a fresh
 * PostgreSQL database, seeded with the demo policies of ./policies, in three scenarios:
 *
 *   single  one check (an accountant of acme reads an acme invoice) with an explicit subject;
 *   token   the same check with the subject as a real user access token (carol logged in through
 *           the login form, code + PKCE exchange) — verified once, then served from the cache;
 *   batch   20 checks (Invoice and Project; allows, deny overrides, default denies) in one request.
 *
 * For reference (not targets) three more rows say what the stack under Tollgate costs: a plain
 * Koa + @koa/router + @koa/bodyparser server answering a fixed JSON; the bare server spinning
 * 25 µs per request before answering (about what /decide's own code takes: it shows that a
 * fixed amount of handler work costs far more throughput than its share of CPU suggests, since a
 * busier server reads fewer requests per wake-up); and Tollgate's GET /healthz (every app-level
 * middleware, no body, no decision).
 *
 * Every scenario's answer is checked before loading (status, allow, reason, rule), and during
 * the load the server's own counters (tollgate_decisions_total) must show exactly the expected
 * allow/deny mix. Server-side decision time comes from the Prometheus histogram
 * tollgate_decision_duration_seconds, scraped before and after each measured run. Finally the
 * in-process micro-benchmark bench/decide-eval.ts runs as a child (10 / 1,000 / 10,000 rules).
 *
 * Tollgate runs with its defaults, so every decision is in the audit log; the single check and
 * the batch run once more on an instance with DECISION_LOG=off, and the difference is the
 * decision log's cost. After the logged scenarios the audit writer is given time to catch up,
 * and the report says how many events it wrote and dropped (tollgate_audit_dropped_total).
 *
 * Targets: single check ≥ 0.7 × bare req/s; decision p99 ≤ 200 µs; 10,000 rules ≤ 3× the time
 * at 10 rules; decision logging costs ≤ 10 % of the single check's throughput.
 *
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (16),
 * BENCH_WORKERS (1: the bare server is one process too), BENCH_DECISIONS (for decide-eval),
 * BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_DATABASE (`postgres`, or
 * `embedded`: every instance on PGlite in its own DATA_DIR, the default without DATABASE_URL).
 *
 * `--profile` runs Tollgate with `--cpu-prof` and prints, for each scenario's measured run alone,
 * where the server's CPU went (by activity, package and frame). `--auto-workers` adds the single
 * check on a second instance with WORKERS=auto. Exits 1 when the run failed, a request did not
 * answer 2xx or an answer was not the expected decision.
 */
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstMessage, runNode, startNode, stopChild } from './lib/children.ts';
import { benchCommandLine, benchLifecycle, progress } from './lib/cli.ts';
import {
  type DecideReport,
  formatDecideReport,
  type Reference,
  type ScenarioReport,
  TARGET_DECISION_LOG_COST,
  TARGET_DECISION_P99_SECONDS,
  TARGET_SINGLE_TO_BARE,
} from './lib/decide-report.ts';
import {
  auditOutcome,
  decideHeaders,
  runScenario,
  type Scenario,
  startDecideInstance,
} from './lib/decide-run.ts';
import {
  BATCH_CHECKS,
  CONTEXT,
  EXPLICIT_SUBJECT,
  SINGLE_CHECK,
  SINGLE_EXPECTED,
  USER_API,
} from './lib/decide-setup.ts';
import { type LoadResult, type LoadSettings, measure } from './lib/load.ts';
import { loadProfiles, summarizeSamples } from './lib/profile.ts';
import type { TollgateProcess } from './lib/tollgate.ts';

const commandLine = benchCommandLine('node bench/decide.ts [--json] [--profile] [--auto-workers]', [
  'auto-workers',
]);
const { flags, usageError, serverUrl } = commandLine;
const settings = { ...commandLine.load, workers: process.env.BENCH_WORKERS || '1' };
if (!/^(auto|[1-9][0-9]?)$/.test(settings.workers))
  usageError(`BENCH_WORKERS must be auto or a whole number, got "${settings.workers}"`);
const embedded = process.env.BENCH_DATABASE === 'embedded';
if (!['', undefined, 'postgres', 'embedded'].includes(process.env.BENCH_DATABASE))
  usageError(`BENCH_DATABASE must be postgres or embedded, got "${process.env.BENCH_DATABASE}"`);
if (embedded && (settings.workers !== '1' || flags['auto-workers']))
  usageError('the embedded database serves one process: BENCH_WORKERS=1 and no --auto-workers');
/** Busy work of the second reference server: about what /decide's own code takes per request. */
const BARE_WORK_US = 25;

const lifecycle = benchLifecycle();

const load: LoadSettings = {
  seconds: settings.seconds,
  warmupSeconds: settings.warmupSeconds,
  connections: settings.connections,
};

function scenarios(userToken: string): Scenario[] {
  const single = { action: SINGLE_CHECK.action, resource: SINGLE_CHECK.resource, context: CONTEXT };
  return [
    {
      key: 'single',
      name: 'single check, explicit subject',
      body: { subject: EXPLICIT_SUBJECT, ...single },
      expected: [SINGLE_EXPECTED],
      batch: false,
    },
    {
      key: 'token',
      name: 'single check, subject token (cached)',
      body: { subject: { token: userToken }, ...single },
      expected: [SINGLE_EXPECTED],
      batch: false,
    },
    {
      key: 'batch',
      name: `batch of ${BATCH_CHECKS.length}, explicit subject`,
      body: { subject: EXPLICIT_SUBJECT, checks: BATCH_CHECKS.map((c) => c.check), context: CONTEXT },
      expected: BATCH_CHECKS.map((c) => c.expected),
      batch: true,
    },
  ];
}

/** A Tollgate child on its own fresh database, stopped and dropped by `close()`. */
const startInstance = (workers: string, nodeArgs: string[], env: Record<string, string> = {}) =>
  startDecideInstance({ embedded, serverUrl, lifecycle, workers, nodeArgs, env });

/**
 * A reference server run as a child (bare node:http, or plain Koa), loaded with exactly the
 * single check's request (headers, caller token, body); it answers a fixed JSON.
 */
async function benchChildServer(
  script: string,
  what: string,
  body: string,
  callerToken: string,
  env: NodeJS.ProcessEnv = {},
) {
  const child = startNode(new URL(script, import.meta.url).pathname, { env: { ...process.env, ...env } });
  const { port } = await firstMessage<{ port: number }>(child, what);
  progress(`${what} on port ${port}; loading for ${load.seconds} s`);
  const result = await measure(
    { url: `http://127.0.0.1:${port}/decide`, method: 'POST', headers: decideHeaders(callerToken), body },
    load,
    { serverPid: child.pid },
  );
  await stopChild(child);
  return result;
}

/** Tollgate's HTTP stack alone: GET /healthz goes through every app-level middleware, no body. */
async function benchHealthz(tollgate: TollgateProcess, callerToken: string): Promise<LoadResult> {
  const response = await fetch(`${tollgate.url}/healthz`);
  if (response.status !== 200) throw new Error(`GET /healthz answered ${response.status}`);
  progress(`Tollgate GET /healthz; loading for ${load.seconds} s`);
  return measure(
    { url: `${tollgate.url}/healthz`, method: 'GET', headers: { authorization: `Bearer ${callerToken}` } },
    load,
    { serverPid: tollgate.child.pid },
  );
}

async function main(): Promise<number> {
  const profileDir = flags.profile ? await mkdtemp(join(tmpdir(), 'tollgate-bench-prof-')) : undefined;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const withMetrics = settings.workers === '1';

  const instance = await startInstance(settings.workers, nodeArgs);
  progress(`Tollgate ready at ${instance.tollgate.url}; caller, user and user token provisioned`);
  const list = scenarios(instance.fixtures.userToken);
  lifecycle.checkInterrupted();
  const singleBody = JSON.stringify(list[0]!.body);
  const bare = await benchChildServer(
    './lib/bare-server.ts',
    'bare node:http server',
    singleBody,
    await instance.fixtures.callerToken(),
  );
  lifecycle.checkInterrupted();
  const references: Reference[] = [];
  const reference = (key: string, name: string, result: LoadResult) =>
    references.push({ key, name, result, ratioToBare: result.rps / bare.rps });
  reference(
    'koa',
    'plain Koa + router + bodyparser',
    await benchChildServer(
      './lib/koa-server.ts',
      'plain Koa server',
      singleBody,
      await instance.fixtures.callerToken(),
    ),
  );
  lifecycle.checkInterrupted();
  // What limits the ratio: handler work costs more than its own CPU time, because a busier
  // server batches fewer requests per wake-up (measured here, not assumed).
  reference(
    'bare-work',
    `bare node:http + ${BARE_WORK_US} µs busy work`,
    await benchChildServer(
      './lib/bare-server.ts',
      'bare node:http server with busy work',
      singleBody,
      await instance.fixtures.callerToken(),
      { BARE_WORK_US: String(BARE_WORK_US) },
    ),
  );
  lifecycle.checkInterrupted();
  reference(
    'healthz',
    'Tollgate GET /healthz',
    await benchHealthz(instance.tollgate, await instance.fixtures.callerToken()),
  );

  const reports: ScenarioReport[] = [];
  for (const scenario of list) {
    lifecycle.checkInterrupted();
    // A fresh caller token per scenario: they live 300 s, a run with long BENCH_SECONDS more.
    const callerToken = await instance.fixtures.callerToken();
    reports.push(await runScenario(instance.tollgate, callerToken, scenario, bare, withMetrics, load));
  }
  const audit = withMetrics ? await auditOutcome(instance.tollgate) : undefined;
  await instance.close();

  // The decision log's cost (issue: ≤ 10 % of throughput): the single check and the batch again
  // on an instance that logs no decisions, everything else equal.
  lifecycle.checkInterrupted();
  const quiet = await startInstance(settings.workers, [], { DECISION_LOG: 'off' });
  const quietList = scenarios(quiet.fixtures.userToken);
  // The single check and the batch, each as the logging instance ran it.
  const offRuns: ScenarioReport[] = [];
  for (const [index, key] of [
    [0, 'no-log'],
    [2, 'no-log-batch'],
  ] as const) {
    lifecycle.checkInterrupted();
    const scenario = { ...quietList[index]!, key };
    scenario.name = `${index === 0 ? 'single check' : scenario.name}, DECISION_LOG=off`;
    offRuns.push(
      await runScenario(
        quiet.tollgate,
        await quiet.fixtures.callerToken(),
        scenario,
        bare,
        withMetrics,
        load,
      ),
    );
  }
  const [decisionLogOff, decisionLogOffBatch] = offRuns as [ScenarioReport, ScenarioReport];
  await quiet.close();

  let autoWorkers: DecideReport['autoWorkers'];
  if (flags['auto-workers']) {
    lifecycle.checkInterrupted();
    const auto = await startInstance('auto', []);
    const scenario = { ...scenarios(auto.fixtures.userToken)[0]!, key: 'auto' };
    scenario.name = `single check, WORKERS=auto (${availableParallelism()})`;
    const report = await runScenario(
      auto.tollgate,
      await auto.fixtures.callerToken(),
      scenario,
      bare,
      false,
      load,
    );
    autoWorkers = { ...report, workers: 'auto' };
    await auto.close();
  }

  lifecycle.checkInterrupted();
  progress('running bench/decide-eval.ts (in-process evaluation, 10 / 1,000 / 10,000 rules)');
  const evalRun = await runNode(
    new URL('./decide-eval.ts', import.meta.url).pathname,
    flags.json ? ['--json'] : [],
  );
  const evaluation = {
    exitCode: evalRun.code,
    output: flags.json ? (JSON.parse(evalRun.stdout) as unknown) : evalRun.stdout,
  };

  const single = reports[0]!;
  const p99 = single.decisionTime?.p99;
  const report: DecideReport = {
    node: process.version,
    cpus: availableParallelism(),
    settings,
    subjectToken:
      'a real user access token (carol, roles [accountant], tenant acme; login form + code/PKCE exchange; ES256, aud ' +
      `${USER_API})`,
    bare,
    references,
    scenarios: reports,
    decisionLogOff,
    decisionLogOffBatch,
    ...(audit ? { audit } : {}),
    ...(autoWorkers ? { autoWorkers } : {}),
    evaluation,
    targets: {
      singleToBare: {
        target: TARGET_SINGLE_TO_BARE,
        value: single.ratioToBare,
        met: single.ratioToBare >= TARGET_SINGLE_TO_BARE,
      },
      decisionP99: {
        targetSeconds: TARGET_DECISION_P99_SECONDS,
        ...(p99 ? { valueSeconds: p99.seconds, bucket: [p99.lower, p99.upper] as [number, number] } : {}),
        met: p99 !== undefined && p99.upper <= TARGET_DECISION_P99_SECONDS,
      },
      evaluationRatio: { target: 3, met: evalRun.code === 0 },
      decisionLogCost: {
        target: TARGET_DECISION_LOG_COST,
        value: 1 - single.result.rps / decisionLogOff.result.rps,
        met: 1 - single.result.rps / decisionLogOff.result.rps <= TARGET_DECISION_LOG_COST,
      },
    },
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${formatDecideReport(report)}\n`);

  if (profileDir) {
    const profiles = await loadProfiles(profileDir);
    const healthz = references.find((r) => r.key === 'healthz');
    for (const scenario of [...(healthz ? [healthz] : []), ...reports]) {
      process.stderr.write(
        `\n${summarizeSamples(profiles, {
          title: `CPU profile of Tollgate, ${scenario.name} (measured run only)`,
          window: scenario.result.window,
          requests: scenario.result.requests,
          top: 20,
        })}\n`,
      );
    }
    process.stderr.write(
      `\nbare node:http for comparison: ${bare.server?.cpuMicrosPerRequest.toFixed(1) ?? '–'} µs CPU per request (/proc)\n` +
        `profiles: ${profiles.files.join(', ')} in ${profileDir}\n`,
    );
  }
  const failed = [
    ...reports,
    decisionLogOff,
    decisionLogOffBatch,
    ...(autoWorkers ? [autoWorkers] : []),
  ].some((r) => r.failures.length > 0);
  if (failed || bare.non2xx > 0 || bare.errors > 0) {
    progress('FAILED: see the failures above');
    return 1;
  }
  return 0;
}

lifecycle.run(main);
