/**
 * Policy impact preview over the decision log, end to end (not part of `npm test`):
 *
 *   node bench/preview-log.ts [--json]
 *
 * For each of DECISION_LOG_INPUTS=full and hashed, on the embedded database and on PostgreSQL
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; BENCH_DATABASE=
 * embedded for that one only): starts Tollgate as a child process (WORKERS=1), records
 * BENCH_DECISIONS (100,000) decisions through POST /decide in batches of 100 (the workload of
 * bench/preview.ts), waits until the log holds them all, then times POST /admin/policies/preview
 * over all of them against the candidate that takes `update` from accountants: reading the rows
 * (and segments), expanding them, and replaying each decision under both sets. Prints decisions
 * per second, the median of BENCH_ROUNDS (3), against the target ≥ 100,000/s (issue 13).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createBenchDatabase } from './lib/database.ts';
import { previewWorkload } from './lib/preview-workload.ts';
import {
  adminApi,
  adminToken,
  requestToken,
  startTollgateProcess,
  type TollgateProcess,
} from './lib/tollgate.ts';

const TARGET_PER_SECOND = 100_000;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 100;
const { values: flags } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const { shipped, narrowed, request } = previewWorkload();

interface Run {
  database: 'embedded' | 'postgres';
  inputs: 'full' | 'hashed';
  rounds: number[];
  median_per_second: number;
  replayed: number;
  flipped: number;
  met: boolean;
}

/** POST /admin/policies/preview; the answer, or an error with the server's. */
async function preview(
  tollgate: TollgateProcess,
  token: string,
  body: unknown,
): Promise<Record<string, number>> {
  const response = await fetch(`${tollgate.url}/admin/policies/preview`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, number>;
  if (response.status !== 200) throw new Error(`preview: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function record(tollgate: TollgateProcess): Promise<void> {
  const admin = await adminApi(tollgate);
  const client = await admin('/clients', {
    name: 'bench-gateway',
    grant_types: ['client_credentials'],
    scope: 'decide',
    api: 'urn:tollgate',
  });
  const token = await requestToken(
    tollgate.url,
    String(client.client_id),
    String(client.client_secret),
    'decide',
  );
  let next = 0;
  const worker = async () => {
    while (next < DECISIONS / BATCH) {
      next += 1;
      const requests = Array.from({ length: BATCH }, request);
      const [{ subject, context }] = requests as [(typeof requests)[number]];
      const checks = requests.map(({ action, resource, field }) => ({
        action,
        resource,
        ...(field ? { field } : {}),
      }));
      const response = await fetch(`${tollgate.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, checks, ...(context ? { context } : {}) }),
      });
      if (response.status !== 200) throw new Error(`/decide: ${response.status} ${await response.text()}`);
      await response.body?.cancel();
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

async function measure(database: Run['database'], inputs: Run['inputs']): Promise<Run> {
  const db = database === 'postgres' ? await createBenchDatabase(postgresUrl) : undefined;
  const tollgate = await startTollgateProcess({
    databaseUrl: db?.url,
    workers: '1',
    env: { DECISION_LOG_INPUTS: inputs },
    // BENCH_CPU_PROF=DIR: a V8 CPU profile of each instance there, to see where a preview's time goes.
    ...(process.env.BENCH_CPU_PROF
      ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] }
      : {}),
  });
  try {
    await record(tollgate);
    const token = await adminToken(tollgate);
    // The log is written off the request path: wait until it holds every decision.
    for (let i = 0; ; i++) {
      const { read } = await preview(tollgate, token, { files: shipped, limit: DECISIONS });
      if (read === DECISIONS) break;
      if (i > 120) throw new Error(`the log holds ${read} of ${DECISIONS} decisions`);
      await sleep(500);
    }
    const rounds: number[] = [];
    let last: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const started = process.hrtime.bigint();
      last = await preview(tollgate, token, { files: narrowed, limit: DECISIONS });
      rounds.push(DECISIONS / (Number(process.hrtime.bigint() - started) / 1e9));
    }
    const median = [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)] as number;
    return {
      database,
      inputs,
      rounds: rounds.map(Math.round),
      median_per_second: Math.round(median),
      replayed: Number(last.replayed),
      flipped: Number(last.flipped),
      met: median >= TARGET_PER_SECOND,
    };
  } finally {
    await tollgate.stop();
    await db?.drop();
  }
}

const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databases: Run['database'][] =
  process.env.BENCH_DATABASE === 'embedded' ? ['embedded'] : ['embedded', 'postgres'];
const runs: Run[] = [];
for (const database of databases)
  for (const inputs of ['full', 'hashed'] as const) runs.push(await measure(database, inputs));

if (flags.json)
  process.stdout.write(
    `${JSON.stringify({ decisions: DECISIONS, target_per_second: TARGET_PER_SECOND, runs }, null, 2)}\n`,
  );
else {
  process.stdout.write(
    `policy impact preview over the decision log: ${DECISIONS.toLocaleString('en')} recorded decisions read and replayed per POST /admin/policies/preview, WORKERS=1, median of ${ROUNDS}\n`,
  );
  for (const run of runs)
    process.stdout.write(
      `${run.database.padEnd(9)} inputs ${run.inputs.padEnd(7)} ${run.median_per_second.toLocaleString('en').padStart(9)}/s   target ≥ ${TARGET_PER_SECOND.toLocaleString('en')}: ${run.met ? 'MET' : 'NOT MET'}   (rounds ${run.rounds.map((r) => r.toLocaleString('en')).join(' / ')}; replayed ${run.replayed.toLocaleString('en')}, flipped ${run.flipped.toLocaleString('en')})\n`,
    );
}
process.exitCode = runs.every((run) => run.met) ? 0 : 1;
