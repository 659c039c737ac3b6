import type { AuditOutcome } from './decide-run.ts';
import type { LoadResult } from './load.ts';
import type { QuantileEstimate } from './metrics.ts';
import { milliseconds } from './report.ts';

/** Single check ÷ bare node:http req/s must reach this (issue 3). */
export const TARGET_SINGLE_TO_BARE = 0.7;
/** Server-side decision time p99 must stay under this, in seconds (issue 3). */
export const TARGET_DECISION_P99_SECONDS = 0.0002;
/** Throughput the decision log may cost the single check (issue 5). */
export const TARGET_DECISION_LOG_COST = 0.1;

/** Server-side decision time of one scenario, from tollgate_decision_duration_seconds. */
export interface DecisionTime {
  /** Checks observed during the measured run. */
  count: number;
  meanSeconds: number;
  p50?: QuantileEstimate;
  p99?: QuantileEstimate;
}

export interface ScenarioReport {
  key: string;
  name: string;
  checksPerRequest: number;
  result: LoadResult;
  ratioToBare: number;
  /** Absent when the instance runs several workers (each has its own registry). */
  decisionTime?: DecisionTime;
  /** What the server counted (tollgate_decisions_total) against what the answers must be. */
  verification: string;
  failures: string[];
  /** Where the figures are the median of several runs (bench/peer.ts): each run's req/s, in order. */
  roundsRps?: number[];
}

/** A reference measurement (not a target): what the stack under Tollgate costs. */
export interface Reference {
  key: string;
  name: string;
  result: LoadResult;
  ratioToBare: number;
}

export interface DecideReport {
  node: string;
  cpus: number;
  settings: { seconds: number; warmupSeconds: number; connections: number; workers: string };
  subjectToken: string;
  bare: LoadResult;
  references: Reference[];
  scenarios: ScenarioReport[];
  /** The single check again on an instance with WORKERS=auto (--auto-workers). */
  /** The single check on an instance with DECISION_LOG=off. */
  decisionLogOff: ScenarioReport;
  /** The batch on that instance. */
  decisionLogOffBatch: ScenarioReport;
  /** The logged instance's audit writer after the load (its whole life, checks of every scenario). */
  audit?: AuditOutcome;
  autoWorkers?: ScenarioReport & { workers: string };
  evaluation: { exitCode: number | null; output: unknown };
  targets: {
    singleToBare: { target: number; value: number; met: boolean };
    decisionP99: { targetSeconds: number; valueSeconds?: number; bucket?: [number, number]; met: boolean };
    evaluationRatio: { target: number; met: boolean };
    decisionLogCost: { target: number; value: number; met: boolean };
  };
}

const micros = (seconds: number | undefined) =>
  seconds === undefined || !Number.isFinite(seconds) ? '–' : (seconds * 1e6).toFixed(0);

/** `≤ 10` in the first bucket (interpolating from 0 would be made up), else `~37 (25–50]`. */
function bucket(estimate: QuantileEstimate | undefined): string {
  if (!estimate) return '–';
  if (estimate.lower === 0) return `≤ ${micros(estimate.upper)}`;
  const upper = Number.isFinite(estimate.upper) ? micros(estimate.upper) : '∞';
  return `~${micros(estimate.seconds)} (${micros(estimate.lower)}–${upper}]`;
}

/** The human-readable table. */
export function formatDecideReport(report: DecideReport): string {
  const { settings: s } = report;
  const widths = [44, 7, 7, 7, 7, 7, 7, 7, 15, 15];
  const row = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[i] ?? 8))).join(' ');
  const load = (name: string, r: LoadResult, ratio: string, decision?: DecisionTime) =>
    row([
      name,
      r.rps.toFixed(0),
      milliseconds(r.p50),
      milliseconds(r.p99),
      ratio,
      r.server ? r.server.cpuPercent.toFixed(0) : '–',
      r.server ? r.server.cpuMicrosPerRequest.toFixed(0) : '–',
      String(r.non2xx + r.errors),
      decision ? bucket(decision.p50) : '–',
      decision ? bucket(decision.p99) : '–',
    ]);
  const lines = [
    `Tollgate /decide benchmark — ${s.seconds} s per target after ${s.warmupSeconds} s warm-up, ` +
      `${s.connections} connections, Tollgate WORKERS=${s.workers}, LOG_LEVEL=warn (no access log); ` +
      `Node ${report.node}, ${report.cpus} CPUs`,
    `subject token: ${report.subjectToken}`,
    '',
    row([
      'target',
      'req/s',
      'p50 ms',
      'p99 ms',
      '÷ bare',
      'srv CPU',
      'µs CPU',
      'non-2xx',
      'decision p50 µs',
      'decision p99 µs',
    ]),
    row(['', '', '', '', '', '% core', 'per req', '+errors', '(bucket]', '(bucket]']),
    load('bare node:http (fixed JSON)', report.bare, '1.000'),
    ...report.references.map((r) => load(`  ref: ${r.name}`, r.result, r.ratioToBare.toFixed(3))),
  ];
  for (const scenario of report.scenarios) {
    lines.push(load(scenario.name, scenario.result, scenario.ratioToBare.toFixed(3), scenario.decisionTime));
  }
  for (const off of [report.decisionLogOff, report.decisionLogOffBatch])
    lines.push(load(off.name, off.result, off.ratioToBare.toFixed(3), off.decisionTime));
  const auto = report.autoWorkers;
  if (auto) lines.push(load(auto.name, auto.result, auto.ratioToBare.toFixed(3)));
  lines.push(
    '',
    'µs CPU per req: CPU time of the server process tree during the run (/proc) ÷ requests answered.',
    'decision µs: server-side time per check from tollgate_decision_duration_seconds bucket deltas of the',
    'measured run, interpolated inside the bucket shown (the lowest bucket is ≤ 10 µs); a batch is 20 checks.',
    '',
    ...report.scenarios.map(
      (sc) =>
        `${sc.key.padEnd(7)} ${sc.verification}; load generator ${sc.result.loadGeneratorCpuPercent.toFixed(0)} % of a core` +
        (sc.decisionTime ? `; decision mean ${(sc.decisionTime.meanSeconds * 1e6).toFixed(1)} µs` : '') +
        (sc.checksPerRequest > 1 ? `; ${(sc.result.rps * sc.checksPerRequest).toFixed(0)} checks/s` : ''),
    ),
    `bare    load generator ${report.bare.loadGeneratorCpuPercent.toFixed(0)} % of a core`,
    '',
  );
  const audit = report.audit;
  if (audit)
    lines.push(
      `audit   ${audit.decisions} checks decided, ${audit.written} events written, ${audit.dropped} dropped, ` +
        `${audit.backlog} still buffered ${audit.drainSeconds.toFixed(1)} s after the load`,
      '',
    );
  const logCost = (logged: ScenarioReport | undefined, off: ScenarioReport) =>
    logged
      ? `${((1 - logged.result.rps / off.result.rps) * 100).toFixed(1)} % req/s, p99 ${(logged.result.p99 / off.result.p99).toFixed(2)}× (${milliseconds(logged.result.p99)} vs ${milliseconds(off.result.p99)} ms)`
      : '–';
  lines.push(
    `decision log on vs off   single: ${logCost(
      report.scenarios.find((sc) => sc.key === 'single'),
      report.decisionLogOff,
    )}`,
    `                         batch:  ${logCost(
      report.scenarios.find((sc) => sc.key === 'batch'),
      report.decisionLogOffBatch,
    )}`,
    '',
  );
  const t = report.targets;
  const verdict = (met: boolean) => (met ? 'MET' : 'NOT MET');
  lines.push(
    `single check ÷ bare      ${t.singleToBare.value.toFixed(3)}   target ≥ ${t.singleToBare.target}: ${verdict(t.singleToBare.met)}`,
    `decision p99 (single)    ${
      t.decisionP99.valueSeconds === undefined
        ? 'n/a'
        : `in (${micros(t.decisionP99.bucket?.[0])}, ${micros(t.decisionP99.bucket?.[1])}] µs`
    }   target ≤ ${micros(t.decisionP99.targetSeconds)} µs: ${verdict(t.decisionP99.met)}`,
    `10,000 ÷ 10 rules        see bench/decide-eval.ts below   target ≤ ${t.evaluationRatio.target}×: ${verdict(t.evaluationRatio.met)}`,
    `decision log cost        ${(t.decisionLogCost.value * 100).toFixed(1)} % (1 − logged ÷ DECISION_LOG=off req/s)   target ≤ ${t.decisionLogCost.target * 100} %: ${verdict(t.decisionLogCost.met)}`,
  );
  const failures = [...report.scenarios, ...(auto ? [auto] : [])].flatMap((sc) =>
    sc.failures.map((f) => `${sc.key}: ${f}`),
  );
  if (failures.length > 0) lines.push('', 'FAILURES:', ...failures.map((f) => `  ${f}`));
  lines.push(
    '',
    `in-process evaluation (bench/decide-eval.ts, exit ${report.evaluation.exitCode}):`,
    ...String(report.evaluation.output)
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
  );
  return lines.join('\n');
}
