import type { ScenarioReport } from './decide-report.ts';
import type { AuditOutcome } from './decide-run.ts';
import type { LoadResult, LoadSettings } from './load.ts';
import type { PolicyCaseComparison } from './peer-checks.ts';
import { milliseconds } from './report.ts';

/** The targets of bench/peer.ts (Tollgate with its decision log on, unless said otherwise). */
export const PEER_TARGETS = {
  /** Tollgate single-check req/s ÷ Cerbos single-check req/s. */
  singleToCerbos: 4,
  /** Tollgate batch req/s ÷ Cerbos batch req/s (20 decisions a request on both). */
  batchToCerbos: 3,
  /** Throughput the decision log may cost: 1 − logged ÷ DECISION_LOG=off req/s. */
  logCost: 0.1,
  /** p99 with the decision log ÷ p99 without. */
  logP99: 1.5,
  /** Tollgate single-check req/s ÷ bare node:http req/s. */
  singleToBare: 0.4,
  /** Embedded: the logged instance's RSS under load may exceed a bare PGlite's by this much. */
  loadOverFloorMb: 200,
  /** …and its RSS before the load (idle). */
  idleOverFloorMb: 80,
};

/** The logged Tollgate instance's resident memory, and the bare-PGlite floor (embedded only). */
export interface MemoryFigures {
  idleMb: number;
  /** The largest RSS seen while its single and batch runs loaded it. */
  loadMb: number;
  /** A bare PGlite reopened in a worker thread, idle (bench/lib/bare-pglite.ts). */
  floorMb?: number;
}

export interface Target {
  name: string;
  /** The measured figure, as the report prints it. */
  value: string;
  target: string;
  verdict: 'pass' | 'FAIL' | 'skipped';
}

export interface CerbosRuns {
  single: LoadResult;
  batch: LoadResult;
  /**
   * Cerbos's own engine time per request during each measured run (mean, µs), from its
   * cerbos_dev_engine_check_latency_milliseconds histogram. Wall time: with GOMAXPROCS=1 and
   * concurrent requests it includes waiting for the core, so it bounds the engine's CPU from
   * above; the rest of Cerbos's CPU per request is its HTTP gateway calling its gRPC service.
   */
  engineMicros: { single: number; batch: number };
  failures: string[];
}

export interface EngineReport {
  engine: 'embedded' | 'postgres';
  bare: LoadResult;
  /** The bare server spinning a fixed time per request (peer.ts BARE_WORK_US): a reference. */
  bareWork: LoadResult & { workUs: number };
  /** Absent when the Cerbos binary cannot run here. */
  cerbos?: CerbosRuns;
  tollgate: {
    single: ScenarioReport;
    batch: ScenarioReport;
    singleOff: ScenarioReport;
    batchOff: ScenarioReport;
  };
  /** The logged instance's audit writer after its runs (its whole life). */
  audit: AuditOutcome;
  memory: MemoryFigures;
  /** What was checked before loading. */
  verified: string;
  targets: Target[];
}

export interface PeerReport {
  node: string;
  cpus: number;
  settings: LoadSettings;
  pinning: string;
  cerbos: { version: string } | { skipped: string };
  policyCases?: PolicyCaseComparison;
  engines: EngineReport[];
}

const times = (value: number) => `${value.toFixed(2)}×`;
const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

/** Every target for one engine; the Cerbos ones are `skipped` without Cerbos. */
export function engineTargets(report: Omit<EngineReport, 'targets'>): Target[] {
  const { cerbos, tollgate: t, audit, bare, memory } = report;
  const check = (name: string, value: number, shown: string, target: string, met: boolean): Target => ({
    name,
    value: shown,
    target,
    verdict: Number.isNaN(value) ? 'FAIL' : met ? 'pass' : 'FAIL',
  });
  const skipped = (name: string, target: string): Target => ({
    name,
    value: '–',
    target,
    verdict: 'skipped',
  });
  const targets: Target[] = [];
  for (const [form, logged, peer, min] of [
    ['single', t.single, cerbos?.single, PEER_TARGETS.singleToCerbos],
    ['batch', t.batch, cerbos?.batch, PEER_TARGETS.batchToCerbos],
  ] as const) {
    const name = `Tollgate ÷ Cerbos req/s, ${form}`;
    if (!peer) targets.push(skipped(name, `≥ ${min}×`));
    else {
      const ratio = logged.result.rps / peer.rps;
      targets.push(check(name, ratio, times(ratio), `≥ ${min}×`, ratio >= min));
    }
  }
  for (const [form, logged, peer] of [
    ['single', t.single, cerbos?.single],
    ['batch', t.batch, cerbos?.batch],
  ] as const) {
    const name = `Tollgate p99 ÷ Cerbos p99, ${form}`;
    if (!peer) targets.push(skipped(name, '≤ 1×'));
    else {
      const ratio = logged.result.p99 / peer.p99;
      const shown = `${times(ratio)} (${milliseconds(logged.result.p99)} vs ${milliseconds(peer.p99)} ms)`;
      targets.push(check(name, ratio, shown, '≤ 1×', ratio <= 1));
    }
  }
  for (const [form, logged, off] of [
    ['single', t.single, t.singleOff],
    ['batch', t.batch, t.batchOff],
  ] as const) {
    const cost = 1 - logged.result.rps / off.result.rps;
    targets.push(
      check(
        `decision log cost in req/s, ${form}`,
        cost,
        `${percent(cost)} (${logged.result.rps.toFixed(0)} vs ${off.result.rps.toFixed(0)})`,
        `≤ ${PEER_TARGETS.logCost * 100} %`,
        cost <= PEER_TARGETS.logCost,
      ),
    );
  }
  for (const [form, logged, off] of [
    ['single', t.single, t.singleOff],
    ['batch', t.batch, t.batchOff],
  ] as const) {
    const ratio = logged.result.p99 / off.result.p99;
    targets.push(
      check(
        `p99 decision log on ÷ off, ${form}`,
        ratio,
        `${times(ratio)} (${milliseconds(logged.result.p99)} vs ${milliseconds(off.result.p99)} ms)`,
        `≤ ${PEER_TARGETS.logP99}×`,
        ratio <= PEER_TARGETS.logP99,
      ),
    );
  }
  targets.push(
    check(
      'audit events dropped (logged instance)',
      audit.dropped,
      `${audit.dropped} (${audit.written} written for ${audit.decisions} decisions, ${audit.backlog} left)`,
      '= 0',
      audit.dropped === 0,
    ),
  );
  const { floorMb } = memory;
  if (floorMb !== undefined) {
    for (const [name, mb, over] of [
      ['RSS idle (logged instance) − bare PGlite', memory.idleMb, PEER_TARGETS.idleOverFloorMb],
      ['RSS under load (logged instance) − bare PGlite', memory.loadMb, PEER_TARGETS.loadOverFloorMb],
    ] as const)
      targets.push(
        check(
          name,
          mb,
          `${(mb - floorMb).toFixed(0)} MB (${mb.toFixed(0)} vs ${floorMb.toFixed(0)} MB)`,
          `≤ ${over} MB`,
          mb - floorMb <= over,
        ),
      );
  }
  const toBare = t.single.result.rps / bare.rps;
  const workToBare = report.bareWork.rps / bare.rps;
  targets.push(
    check(
      'Tollgate single ÷ bare node:http req/s',
      toBare,
      `${toBare.toFixed(3)} (bare + ${report.bareWork.workUs} µs busy work: ${workToBare.toFixed(3)})`,
      `≥ ${PEER_TARGETS.singleToBare}`,
      toBare >= PEER_TARGETS.singleToBare,
    ),
  );
  return targets;
}

/** Run failures (not target misses): non-2xx, errors, wrong decisions during the load. */
export function runFailures(report: PeerReport): string[] {
  return report.engines.flatMap((e) => [
    ...(e.bare.non2xx + e.bare.errors > 0
      ? [`${e.engine} bare: ${e.bare.non2xx} non-2xx, ${e.bare.errors} errors`]
      : []),
    ...(e.cerbos?.failures ?? []).map((f) => `${e.engine} Cerbos: ${f}`),
    ...Object.values(e.tollgate).flatMap((sc) =>
      sc.failures.map((f) => `${e.engine} Tollgate ${sc.name}: ${f}`),
    ),
  ]);
}

/** Tollgate's mean decision time per request (per check × checks), from its own histogram. */
const engineTime = (scenario: ScenarioReport, checks: number) =>
  scenario.decisionTime ? (scenario.decisionTime.meanSeconds * 1e6 * checks).toFixed(0) : '–';

/**
 * The same comparisons in server CPU per request (not targets): unlike req/s and p99 they hardly
 * move when other work shares the machine. On PostgreSQL the database's own CPU is not counted.
 */
function cpuLines(engine: EngineReport): string[] {
  const cpu = (r: LoadResult) => r.server?.cpuMicrosPerRequest ?? Number.NaN;
  const ratio = (a: LoadResult, b: LoadResult) => (cpu(a) / cpu(b)).toFixed(2);
  const t = engine.tollgate;
  return [
    'server CPU per request (information, steadier than req/s on a busy machine' +
      (engine.engine === 'postgres' ? "; PostgreSQL's own CPU not counted):" : '):'),
    ...(engine.cerbos
      ? [
          `  Cerbos ÷ Tollgate (log on)   single ${ratio(engine.cerbos.single, t.single.result)}×, batch ${ratio(engine.cerbos.batch, t.batch.result)}×`,
        ]
      : []),
    `  log on ÷ log off             single ${ratio(t.single.result, t.singleOff.result)}×, batch ${ratio(t.batch.result, t.batchOff.result)}×`,
  ];
}

const ENGINE_NAMES = { embedded: 'embedded database (PGlite)', postgres: 'PostgreSQL' };

/** The human-readable report: one table per engine, then its targets. */
export function formatPeerReport(report: PeerReport): string {
  const { settings: s } = report;
  const widths = [46, 8, 7, 7, 8, 8, 8, 6];
  const row = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[i] ?? 8))).join(' ');
  const load = (name: string, r: LoadResult, checks: number) =>
    row([
      name,
      r.rps.toFixed(0),
      milliseconds(r.p50),
      milliseconds(r.p99),
      r.server ? r.server.cpuPercent.toFixed(0) : '–',
      r.server ? r.server.cpuMicrosPerRequest.toFixed(0) : '–',
      String(r.non2xx + r.errors),
      r.stealPercent === undefined ? '–' : r.stealPercent.toFixed(0),
    ]) + (checks > 1 ? `   ${(r.rps * checks).toFixed(0)} decisions/s` : '');
  const cerbosName = 'version' in report.cerbos ? `Cerbos ${report.cerbos.version}` : 'Cerbos';
  const lines = [
    `Tollgate beside Cerbos — ${s.seconds} s per target after ${s.warmupSeconds} s warm-up, ${s.connections} connections; ` +
      `Node ${report.node}, ${report.cpus} CPUs`,
    `pinning: ${report.pinning}`,
    `Tollgate: WORKERS=1, LOG_LEVEL=warn, decision log on (default) and DECISION_LOG=off; ` +
      ('version' in report.cerbos
        ? `${cerbosName}: GOMAXPROCS=1, disk store, audit and decision log off (defaults), log level warn`
        : `Cerbos SKIPPED: ${report.cerbos.skipped}`),
    'single: one subject, one action, one resource; batch: 20 decisions a request (Tollgate: 20 checks in one',
    '/decide; Cerbos: 5 resources × 4 actions in one CheckResources). Same subject, resources and answers on both.',
  ];
  if (report.policyCases) {
    const { compared, skipped } = report.policyCases;
    lines.push(
      `equivalence: Cerbos (bench/cerbos/) and Tollgate agree on all ${compared} applicable cases of policies/*.test.yaml; ` +
        `${skipped.length} skipped (${[...new Set(skipped.map((c) => c.why))].join(', ')})`,
    );
  }
  for (const engine of report.engines) {
    const t = engine.tollgate;
    lines.push(
      '',
      `== ${ENGINE_NAMES[engine.engine]} ==`,
      row(['target', 'req/s', 'p50 ms', 'p99 ms', 'srv CPU', 'µs CPU', 'non-2xx', 'steal']),
      row(['', '', '', '', '% core', 'per req', '+errors', '%']),
      load('bare node:http (fixed JSON)', engine.bare, 1),
      load(`  ref: bare + ${engine.bareWork.workUs} µs busy work`, engine.bareWork, 1),
    );
    if (engine.cerbos) {
      lines.push(
        load(`${cerbosName} single`, engine.cerbos.single, 1),
        load(`${cerbosName} batch (5 × 4)`, engine.cerbos.batch, 20),
      );
    } else lines.push(`${cerbosName}: skipped`);
    lines.push(
      load('Tollgate single, decision log on', t.single.result, 1),
      load('Tollgate batch of 20, decision log on', t.batch.result, 20),
      load('Tollgate single, DECISION_LOG=off', t.singleOff.result, 1),
      load('Tollgate batch of 20, DECISION_LOG=off', t.batchOff.result, 20),
      '',
      `checked before loading: ${engine.verified}`,
      ...Object.values(t).map((sc) => `${sc.name}: ${sc.verification}`),
      ...(t.single.roundsRps
        ? [
            `Tollgate rows: the median of ${t.single.roundsRps.length} runs each, logged and unlogged taking turns; req/s of each run:`,
            ...Object.values(t).map(
              (sc) => `  ${sc.name}: ${(sc.roundsRps ?? []).map((rps) => rps.toFixed(0)).join(', ')}`,
            ),
          ]
        : []),
      `decision time per request, mean µs (server metrics): Tollgate single ${engineTime(t.single, 1)}, batch ${engineTime(t.batch, 20)}` +
        (engine.cerbos
          ? `; Cerbos engine single ${engine.cerbos.engineMicros.single.toFixed(0)}, batch ${engine.cerbos.engineMicros.batch.toFixed(0)}` +
            ' (wall time: waits for its one core under concurrent requests included)'
          : ''),
      '',
      ...engine.targets.map(
        (target) =>
          `${target.name.padEnd(40)} ${target.value.padEnd(50)} target ${target.target.padEnd(7)} ${target.verdict}`,
      ),
      ...cpuLines(engine),
    );
  }
  const failures = runFailures(report);
  if (failures.length > 0) lines.push('', 'RUN FAILURES:', ...failures.map((f) => `  ${f}`));
  lines.push(
    '',
    'µs CPU per req: CPU time of the server process tree during the run (/proc) ÷ requests answered.',
    'steal %: share of the machine’s CPU time its hypervisor gave to others during the run (/proc/stat);',
    'a run with much of it measured the neighbours as much as the servers.',
    'Figures vary between runs with whatever else the machine does; compare rows of one run.',
  );
  return lines.join('\n');
}
