/**
 * Load benchmark of Tollgate beside a peer decision point, Cerbos (not part of `npm test`):
 *
 *   node bench/peer.ts [--json]
 *
 * Is Tollgate's /decide worth running instead of a dedicated policy engine? In one run, with the
 * same autocannon settings for every target (BENCH_CONNECTIONS connections, a warm-up whose
 * figures are dropped, then the measured window), for each engine of BENCH_ENGINES:
 *
 *   bare      a bare node:http server answering a fixed JSON: the ceiling of this machine; and
 *             once more spinning 25 µs per request before answering, a reference for reading
 *             single ÷ bare: on a loopback benchmark a fixed amount of handler work costs far
 *             more throughput than its share of CPU (a slower server leaves the load generator
 *             idle, and each answer must then wake it);
 *   Cerbos    the Cerbos server (npm @cerbos/cerbos-linux-x64, pinned version) with GOMAXPROCS=1,
 *             a disk policy store holding bench/cerbos/ (the demo policies of ./policies written
 *             as Cerbos derived roles and resource policies), audit and decision logging off
 *             (its defaults): POST /api/check/resources;
 *   Tollgate  two children with WORKERS=1, each on a fresh database of the engine (embedded:
 *             PGlite in a new DATA_DIR; postgres: a new database, bench/lib/database.ts), one with
 *             its decision log on (the default: every decision in the audit chain), one with
 *             DECISION_LOG=off: POST /decide. They take turns, BENCH_ROUNDS runs each per form,
 *             and the run of median req/s is reported (every run's req/s is listed).
 *
 * Two forms, the same subject (an accountant of acme), resources and answers on both engines:
 * single (one action on one resource) and batch (20 decisions: Tollgate 20 checks in one /decide
 * request, Cerbos 5 resources × 4 actions in one CheckResources request).
 *
 * Before any load, Cerbos must decide exactly as Tollgate: every applicable case of
 * policies/*.test.yaml (Tollgate's compiled policy set in-process against Cerbos; field-level
 * cases and subjects without roles have no Cerbos form and are skipped), and every benchmark
 * check asked of the running Tollgate and of Cerbos. Each target's answer is checked again
 * right before it is loaded; during the load every non-2xx counts, and Tollgate's own counters
 * (tollgate_decisions_total) must show exactly the expected allow/deny mix. After the logged
 * runs the audit writer is given time to catch up, and the report says how many events it wrote
 * and dropped (tollgate_audit_dropped_total from /metrics). Both servers' own metrics also give
 * the decision time per request (Tollgate's decision histogram, Cerbos's engine histogram):
 * Cerbos's HTTP API is a gateway that calls its own gRPC service, and most of its CPU per
 * request goes there, not to its engine. Its gRPC API is not measured here.
 *
 * Pinning: where taskset exists and two CPUs are available, every server runs under
 * `taskset -c <second CPU>` and this process (autocannon) is pinned to the first, so the server
 * under test and the load generator never take turns on one core. PostgreSQL's own processes
 * are not pinned. The report header says what was done.
 *
 * Targets (Tollgate with its decision log on): single ≥ 4× Cerbos req/s, batch ≥ 3× Cerbos req/s;
 * p99 ≤ Cerbos p99 in both forms; the decision log costs ≤ 10 % of req/s and p99 ≤ 1.5× the
 * unlogged p99 in both forms; no audit event dropped; single ≥ 0.4 × bare req/s. On the embedded
 * engine, the logged instance's RSS (sampled from /proc through its runs, and idle before them)
 * against a bare PGlite reopened in a worker thread (bench/lib/bare-pglite.ts) measured in the
 * same run: ≤ floor + 200 MB under load, ≤ floor + 80 MB idle. A missed target is reported, not
 * an error.
 *
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (10),
 * BENCH_ROUNDS (3), BENCH_ENGINES (embedded,postgres), BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres).
 * Exits 1 when the run failed: a non-2xx answer, a wrong decision, Cerbos and Tollgate
 * disagreeing. When the Cerbos binary cannot run here, its rows and targets are skipped with a
 * message and the run exits 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CerbosServer, findCerbos, startCerbos } from './lib/cerbos.ts';
import { firstMessage, startNode, stopChild } from './lib/children.ts';
import { benchCommandLine, benchLifecycle, progress } from './lib/cli.ts';
import { type ProcessCpus, pinLoadGenerator } from './lib/cpu.ts';
import type { ScenarioReport } from './lib/decide-report.ts';
import {
  auditOutcome,
  decideHeaders,
  runScenario,
  type Scenario,
  startDecideInstance,
} from './lib/decide-run.ts';
import type { Expected } from './lib/decide-setup.ts';
import { type LoadResult, measure } from './lib/load.ts';
import { memoryOf, sampleRss, startBarePglite } from './lib/memory.ts';
import { counterDelta, type Scrape, scrapeMetrics } from './lib/metrics.ts';
import {
  askCerbos,
  BATCH,
  cerbosBatchBody,
  cerbosSingleBody,
  comparePolicyTests,
  type ResourceActions,
  SINGLE,
  tollgateBody,
  verifyBenchChecks,
} from './lib/peer-checks.ts';
import {
  type CerbosRuns,
  type EngineReport,
  engineTargets,
  formatPeerReport,
  type PeerReport,
  runFailures,
} from './lib/peer-report.ts';

const commandLine = benchCommandLine('node bench/peer.ts [--json]', [], { connections: 10 });
const { flags, usageError, serverUrl } = commandLine;
if (flags.profile) usageError('--profile belongs to bench/decide.ts; bench/peer.ts has no profile mode');
const load = commandLine.load;
const ENGINES = ['embedded', 'postgres'] as const;
type Engine = (typeof ENGINES)[number];
const engines = (process.env.BENCH_ENGINES || ENGINES.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter((name) => name !== '');
for (const name of engines)
  if (!(ENGINES as readonly string[]).includes(name))
    usageError(`BENCH_ENGINES lists embedded and/or postgres, got "${name}"`);

/** Cerbos's histogram of its engine's time per CheckResources call, in milliseconds. */
const CERBOS_ENGINE_LATENCY = 'cerbos_dev_engine_check_latency_milliseconds';

const lifecycle = benchLifecycle();
/** Runs of each Tollgate target, taking turns logged/unlogged; the median run is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 9)
  usageError(`BENCH_ROUNDS must be a whole number from 1 to 9, got "${process.env.BENCH_ROUNDS}"`);

/**
 * The run of median req/s, with every run's req/s beside it and every run's failures: a wrong
 * answer in any round fails the benchmark.
 */
function medianRun(runs: ScenarioReport[]): ScenarioReport {
  const sorted = [...runs].sort((a, b) => a.result.rps - b.result.rps);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as ScenarioReport;
  return {
    ...median,
    roundsRps: runs.map((run) => run.result.rps),
    failures: runs.flatMap((run) => run.failures),
  };
}

/** The busy work of the bare reference row: about what a handler doing real work spends. */
const BARE_WORK_US = 25;
/** How long the bare PGlite idles before its RSS is read, as bench/startup.ts does. */
const FLOOR_IDLE_SECONDS = 5;
// Read before this process pins itself to one CPU, which would make it 1.
const cpuCount = availableParallelism();

/**
 * The bare server, loaded with exactly Tollgate's single-check request (it answers a fixed JSON);
 * with `workUs`, spinning that long per request first: what a fixed amount of handler work costs
 * in throughput on this machine (bench/lib/bare-server.ts), to read single ÷ bare against.
 */
async function benchBare(
  callerToken: string,
  cpus: ProcessCpus | undefined,
  workUs = 0,
): Promise<LoadResult> {
  const child = startNode(new URL('./lib/bare-server.ts', import.meta.url).pathname, {
    ...(cpus ? { cpus } : {}),
    ...(workUs > 0 ? { env: { ...process.env, BARE_WORK_US: String(workUs) } } : {}),
  });
  const { port } = await firstMessage<{ port: number }>(child, 'bare node:http server');
  progress(`bare node:http server (${workUs} µs busy work) on port ${port}; loading for ${load.seconds} s`);
  const result = await measure(
    {
      url: `http://127.0.0.1:${port}/decide`,
      method: 'POST',
      headers: decideHeaders(callerToken),
      body: JSON.stringify(tollgateBody(SINGLE.entries)),
    },
    load,
    { serverPid: child.pid },
  );
  await stopChild(child);
  return result;
}

const sameAnswers = (allows: boolean[], expected: Expected[]) =>
  allows.length === expected.length && allows.every((allow, i) => allow === expected[i]?.allow);

/** Cerbos in both forms; each answer is checked right before and right after its load. */
async function benchCerbos(cerbos: CerbosServer): Promise<CerbosRuns> {
  const failures: string[] = [];
  const run = async (form: string, body: Record<string, unknown>, expected: Expected[]) => {
    if (!sameAnswers(await askCerbos(cerbos.url, body), expected))
      throw new Error(`Cerbos ${form}: not the expected decisions`);
    progress(`Cerbos ${form}: answer checked; loading POST /api/check/resources for ${load.seconds} s`);
    let before: Scrape | undefined;
    let after: Scrape | undefined;
    const result = await measure(
      {
        url: `${cerbos.url}/api/check/resources`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      load,
      {
        serverPid: cerbos.child.pid,
        beforeRun: async () => {
          before = await scrapeMetrics(cerbos.metricsUrl);
        },
        afterRun: async () => {
          after = await scrapeMetrics(cerbos.metricsUrl);
        },
      },
    );
    const engineMicros =
      before && after
        ? (1000 * counterDelta(before, after, `${CERBOS_ENGINE_LATENCY}_sum`, { status: 'success' })) /
          counterDelta(before, after, `${CERBOS_ENGINE_LATENCY}_count`, { status: 'success' })
        : Number.NaN;
    if (result.non2xx > 0 || result.errors > 0)
      failures.push(
        `${form}: ${result.non2xx} non-2xx responses (${JSON.stringify(result.statusCodes)}) and ${result.errors} errors`,
      );
    if (!sameAnswers(await askCerbos(cerbos.url, body), expected))
      failures.push(`${form}: not the expected decisions after the load`);
    return { result, engineMicros };
  };
  const single = await run('single', cerbosSingleBody(), SINGLE.expected);
  lifecycle.checkInterrupted();
  const batch = await run('batch', cerbosBatchBody(), BATCH.expected);
  return {
    single: single.result,
    batch: batch.result,
    engineMicros: { single: single.engineMicros, batch: batch.engineMicros },
    failures,
  };
}

const scenario = (
  key: string,
  name: string,
  form: { entries: ResourceActions[]; expected: Expected[] },
): Scenario => ({
  key,
  name,
  body: tollgateBody(form.entries),
  expected: form.expected,
  batch: form.expected.length > 1,
});

/** One engine: bare, Cerbos, then Tollgate logged and unlogged, each on a fresh database. */
async function benchEngine(
  engine: Engine,
  cerbos: CerbosServer | undefined,
  cpus: ProcessCpus | undefined,
  floorMb: number | undefined,
): Promise<EngineReport> {
  const start = (env: Record<string, string>) =>
    startDecideInstance({
      embedded: engine === 'embedded',
      serverUrl,
      lifecycle,
      workers: '1',
      env,
      ...(cpus ? { cpus } : {}),
    });
  const logged = await start({});
  const verified = cerbos
    ? await verifyBenchChecks(
        { url: logged.tollgate.url, callerToken: await logged.fixtures.callerToken() },
        cerbos.url,
      )
    : 'Tollgate answers only (Cerbos skipped)';
  progress(`${engine}: ${verified}`);
  lifecycle.checkInterrupted();
  const bare = await benchBare(await logged.fixtures.callerToken(), cpus);
  lifecycle.checkInterrupted();
  const bareWork = await benchBare(await logged.fixtures.callerToken(), cpus, BARE_WORK_US);
  lifecycle.checkInterrupted();
  const cerbosRuns = cerbos ? await benchCerbos(cerbos) : undefined;

  // Both instances run side by side and take turns, ROUNDS runs each per form: consecutive
  // runs of one instance differ by up to ±15 % on a shared machine, so the decision log's cost
  // is read from medians of interleaved runs, not from one run of each at different times.
  const quiet = await start({ DECISION_LOG: 'off' });
  // Each run gets a fresh caller token: they live 300 s, a run with long BENCH_SECONDS more.
  const runOn = async (instance: typeof logged, sc: Scenario) => {
    lifecycle.checkInterrupted();
    return runScenario(instance.tollgate, await instance.fixtures.callerToken(), sc, bare, true, load);
  };
  const pid = logged.tollgate.child.pid as number;
  const idleMb = memoryOf(pid).rssMb;
  const sampler = sampleRss(pid);
  const rounds = async (form: typeof SINGLE, key: string, name: string) => {
    const on: ScenarioReport[] = [];
    const off: ScenarioReport[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      on.push(await runOn(logged, scenario(key, `${name}, decision log on`, form)));
      off.push(await runOn(quiet, scenario(`${key}-off`, `${name}, DECISION_LOG=off`, form)));
    }
    return { on: medianRun(on), off: medianRun(off) };
  };
  const single = await rounds(SINGLE, 'single', 'single');
  const batch = await rounds(BATCH, 'batch', 'batch of 20');
  const memory = { idleMb, loadMb: sampler.stop(), ...(floorMb === undefined ? {} : { floorMb }) };
  const audit = await auditOutcome(logged.tollgate);
  await logged.close();
  await quiet.close();

  const measured = {
    engine,
    bare,
    bareWork: { ...bareWork, workUs: BARE_WORK_US },
    ...(cerbosRuns ? { cerbos: cerbosRuns } : {}),
    tollgate: { single: single.on, batch: batch.on, singleOff: single.off, batchOff: batch.off },
    audit,
    memory,
    verified,
  };
  return { ...measured, targets: engineTargets(measured) };
}

async function main(): Promise<number> {
  const pinning = pinLoadGenerator();
  const pinningNote =
    pinning.description + (engines.includes('postgres') ? " (PostgreSQL's own processes included)" : '');
  progress(`pinning: ${pinningNote}`);
  const cpus = pinning.serverCpus;

  const binary = findCerbos();
  let cerbos: CerbosServer | undefined;
  let policyCases: PeerReport['policyCases'];
  if ('problem' in binary) {
    progress(`Cerbos cannot run here, so its rows and targets are skipped: ${binary.problem}`);
  } else {
    progress(`starting Cerbos ${binary.version} (GOMAXPROCS=1, disk store with bench/cerbos/)`);
    const server = await startCerbos({ binary: binary.path, ...(cpus ? { cpus } : {}) });
    cerbos = server;
    lifecycle.onCleanup(() => server.stop());
    policyCases = await comparePolicyTests(server.url);
    progress(
      `Cerbos and Tollgate agree on ${policyCases.compared} cases of policies/*.test.yaml ` +
        `(${policyCases.skipped.length} have no Cerbos form)`,
    );
  }

  // The memory floor of the embedded engine: a bare PGlite, initdb'd then reopened and idle.
  let floorMb: number | undefined;
  if (engines.includes('embedded')) {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-bench-floor-'));
    lifecycle.onCleanup(() => rm(dir, { recursive: true, force: true }));
    await startBarePglite(dir, 0);
    floorMb = (await startBarePglite(dir, FLOOR_IDLE_SECONDS)).memory.rssMb;
    progress(`bare PGlite floor: ${floorMb.toFixed(0)} MB RSS reopened and idle`);
  }

  const reports: EngineReport[] = [];
  for (const engine of engines as Engine[]) {
    lifecycle.checkInterrupted();
    reports.push(await benchEngine(engine, cerbos, cpus, engine === 'embedded' ? floorMb : undefined));
  }
  await cerbos?.stop();

  const report: PeerReport = {
    node: process.version,
    cpus: cpuCount,
    settings: load,
    pinning: pinningNote,
    cerbos: 'problem' in binary ? { skipped: binary.problem } : { version: binary.version },
    ...(policyCases ? { policyCases } : {}),
    engines: reports,
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${formatPeerReport(report)}\n`);

  if ('problem' in binary) progress(`Cerbos was SKIPPED (${binary.problem}): no Tollgate ÷ Cerbos figures`);
  if (runFailures(report).length > 0) {
    progress('FAILED: see the run failures above');
    return 1;
  }
  return 0;
}

lifecycle.run(main);
