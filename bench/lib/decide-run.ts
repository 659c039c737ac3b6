/**
 * Running POST /decide under load against a Tollgate child, shared by bench/decide.ts and
 * bench/peer.ts: a fresh instance on either engine, the answer check before loading, the
 * measured run with the server's own decision counters around it, and what the audit writer
 * wrote and dropped afterwards.
 */
import { progress } from './cli.ts';
import type { ProcessCpus } from './cpu.ts';
import { createBenchDatabase } from './database.ts';
import type { DecisionTime, ScenarioReport } from './decide-report.ts';
import { type DecideFixtures, type Expected, mismatch, provisionDecide, USER_API } from './decide-setup.ts';
import { type LoadResult, type LoadSettings, measure } from './load.ts';
import { counterDelta, histogramDelta, histogramQuantile, type Scrape, scrapeMetrics } from './metrics.ts';
import { startTollgateProcess, type TollgateProcess } from './tollgate.ts';

const DECISION_HISTOGRAM = 'tollgate_decision_duration_seconds';

/** One /decide scenario: the body, and the decisions every request must get. */
export interface Scenario {
  key: string;
  name: string;
  body: Record<string, unknown>;
  expected: Expected[];
  batch: boolean;
}

export const decideHeaders = (callerToken: string) => ({
  authorization: `Bearer ${callerToken}`,
  'content-type': 'application/json',
});

/** Before loading: one request must answer 200 with exactly the expected decisions. */
export async function checkAnswer(url: string, callerToken: string, scenario: Scenario): Promise<void> {
  const response = await fetch(`${url}/decide`, {
    method: 'POST',
    headers: decideHeaders(callerToken),
    body: JSON.stringify(scenario.body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200)
    throw new Error(`${scenario.key}: ${response.status} ${JSON.stringify(answer)}`);
  const results = scenario.batch ? (answer.results as unknown[]) : [answer];
  if (!Array.isArray(results) || results.length !== scenario.expected.length)
    throw new Error(`${scenario.key}: unexpected answer ${JSON.stringify(answer)}`);
  const problems = scenario.expected
    .map((expected, i) => [i, mismatch(results[i], expected)] as const)
    .filter(([, problem]) => problem !== '')
    .map(([i, problem]) => `check ${i}: ${problem} (${JSON.stringify(results[i])})`);
  if (problems.length > 0) throw new Error(`${scenario.key}: wrong decision: ${problems.join('; ')}`);
}

/**
 * Checks the answer, then loads the scenario. With `withMetrics` (one worker: one registry) the
 * server's tollgate_decisions_total must show exactly the expected allow/deny mix for the
 * requests answered, and the decision-time histogram gives the server-side time per check.
 */
export async function runScenario(
  tollgate: TollgateProcess,
  callerToken: string,
  scenario: Scenario,
  bare: LoadResult,
  withMetrics: boolean,
  load: LoadSettings,
): Promise<ScenarioReport> {
  await checkAnswer(tollgate.url, callerToken, scenario);
  progress(`${scenario.key}: answer checked; loading POST /decide for ${load.seconds} s`);
  let before: Scrape | undefined;
  let after: Scrape | undefined;
  const result = await measure(
    {
      url: `${tollgate.url}/decide`,
      method: 'POST',
      headers: decideHeaders(callerToken),
      body: JSON.stringify(scenario.body),
    },
    load,
    {
      serverPid: tollgate.child.pid,
      beforeRun: async () => {
        if (withMetrics) before = await scrapeMetrics(tollgate.metricsUrl);
      },
      afterRun: async () => {
        if (withMetrics) after = await scrapeMetrics(tollgate.metricsUrl);
      },
    },
  );
  const failures: string[] = [];
  if (result.non2xx > 0 || result.errors > 0) {
    failures.push(
      `${result.non2xx} non-2xx responses (${JSON.stringify(result.statusCodes)}) and ${result.errors} errors`,
    );
  }
  let decisionTime: DecisionTime | undefined;
  let verification = 'server counters not read (several workers, one registry each)';
  if (before && after) {
    const histogram = histogramDelta(before, after, DECISION_HISTOGRAM);
    decisionTime = {
      count: histogram.count,
      meanSeconds: histogram.count > 0 ? histogram.sumSeconds / histogram.count : Number.NaN,
      p50: histogramQuantile(histogram, 0.5),
      p99: histogramQuantile(histogram, 0.99),
    };
    const allows = counterDelta(before, after, 'tollgate_decisions_total', { result: 'allow' });
    const denies = counterDelta(before, after, 'tollgate_decisions_total', { result: 'deny' });
    const perAllow = scenario.expected.filter((e) => e.allow).length;
    const perDeny = scenario.expected.length - perAllow;
    // Requests still in flight when autocannon stopped were answered by the server, uncounted.
    const served = Math.round((allows + denies) / scenario.expected.length);
    const exact = allows === served * perAllow && denies === served * perDeny;
    const plausible = served >= result.requests && served <= result.requests + 2 * load.connections;
    verification =
      `server counted ${allows} allow + ${denies} deny = ${served} requests × (${perAllow} allow, ${perDeny} deny)` +
      ` ${exact && plausible ? '✓' : '✗'} (autocannon: ${result.requests} answered)`;
    if (!exact) failures.push(`decisions during load differ from the expected mix: ${verification}`);
    else if (!plausible) failures.push(`server decided for a different number of requests: ${verification}`);
  }
  return {
    key: scenario.key,
    name: scenario.name,
    checksPerRequest: scenario.expected.length,
    result,
    ratioToBare: result.rps / bare.rps,
    ...(decisionTime ? { decisionTime } : {}),
    verification,
    failures,
  };
}

export interface DecideInstance {
  tollgate: TollgateProcess;
  fixtures: DecideFixtures;
  close(): Promise<void>;
}

/**
 * A Tollgate child on its own fresh database — a new PostgreSQL database on `serverUrl`, or
 * with `embedded` PGlite in the child's fresh DATA_DIR — with the decide fixtures provisioned.
 * `close()` stops it and drops the database; so does the lifecycle's cleanup on failure.
 */
export async function startDecideInstance(options: {
  embedded: boolean;
  serverUrl: string;
  lifecycle: { onCleanup(cleanup: () => Promise<void>): void };
  workers: string;
  nodeArgs?: string[];
  env?: Record<string, string>;
  cpus?: ProcessCpus;
}): Promise<DecideInstance> {
  const database = options.embedded ? undefined : await createBenchDatabase(options.serverUrl);
  if (database) options.lifecycle.onCleanup(() => database.drop());
  progress(
    `${database ? `database ${database.name} created` : 'embedded database'}; starting Tollgate with WORKERS=${options.workers}` +
      (options.env?.DECISION_LOG ? ` DECISION_LOG=${options.env.DECISION_LOG}` : ''),
  );
  const tollgate = await startTollgateProcess({
    databaseUrl: database?.url,
    nodeArgs: options.nodeArgs ?? [],
    workers: options.workers,
    // Subject tokens must be for the user API, as a deployment would configure it.
    env: { SUBJECT_TOKEN_AUDIENCES: USER_API, ...options.env },
    ...(options.cpus ? { cpus: options.cpus } : {}),
  });
  options.lifecycle.onCleanup(() => tollgate.stop());
  const fixtures = await provisionDecide(tollgate);
  return {
    tollgate,
    fixtures,
    async close() {
      await tollgate.stop();
      await database?.drop();
    },
  };
}

/** What the audit writer did over an instance's life, read once the load has stopped. */
export interface AuditOutcome {
  decisions: number;
  written: number;
  dropped: number;
  backlog: number;
  drainSeconds: number;
}

/**
 * Once the load has stopped: waits (up to a minute) for the audit writer to have written what
 * it holds, then reads what it wrote and dropped over the instance's life. With the decision
 * log on, every decision must be written or counted dropped: the writer's figures reach the
 * metrics a few times a second, so an empty queue alone can be read before the last of them.
 */
export async function auditOutcome(tollgate: TollgateProcess): Promise<AuditOutcome> {
  const started = performance.now();
  const none = new Map() as Scrape;
  let scrape = await scrapeMetrics(tollgate.metricsUrl);
  const total = (name: string, match: Record<string, string> = {}) => counterDelta(none, scrape, name, match);
  const settled = () =>
    total('tollgate_audit_queue_depth') === 0 &&
    total('tollgate_audit_events_written_total') + total('tollgate_audit_dropped_total') >=
      total('tollgate_decisions_total');
  while (!settled() && performance.now() - started < 60_000) {
    await new Promise((done) => setTimeout(done, 250));
    scrape = await scrapeMetrics(tollgate.metricsUrl);
  }
  return {
    decisions: total('tollgate_decisions_total'),
    written: total('tollgate_audit_events_written_total'),
    dropped: total('tollgate_audit_dropped_total'),
    backlog: total('tollgate_audit_queue_depth'),
    drainSeconds: (performance.now() - started) / 1000,
  };
}
