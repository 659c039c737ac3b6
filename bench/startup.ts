import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_FLAGS } from '../src/common/index.ts';
import { prepareTemplate } from '../src/db/index.ts';
import { freePort, startNode, stopAllChildren, stopChild } from './lib/children.ts';
import { cpuMsOf, memoryOf, type Start, startBarePglite } from './lib/memory.ts';
import { waitReady } from './lib/tollgate.ts';

const root = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);

const TARGETS = { firstStartMs: 4000, restartMs: 1500, firstPeakMb: 700, idleOverFloorMb: 80 };

/** `npm start`'s `node <flags> src/main.ts` on `dataDir`: time to /readyz 200, and memory (after idling, if `idle`). */
async function startTollgate(dataDir: string, idle: boolean): Promise<Start> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = startNode(join(root, 'src/main.ts'), {
    nodeArgs: [...SERVICE_NODE_FLAGS],
    cwd: root,
    env: {
      PATH: process.env.PATH,
      ...(process.env.CACHE_DIR ? { CACHE_DIR: process.env.CACHE_DIR } : {}),
      PORT: String(port),
      DATA_DIR: dataDir,
      // npm start logs at info; its lines go nowhere here, but they are produced as there.
    },
  });
  try {
    // Fine-grained: the figure is the time to ready, so the polling must not round it up much.
    await waitReady(url, child, { timeoutMs: 120_000, pollMs: 10 });
    const ms = performance.now() - started;
    const pid = child.pid as number;
    const cpuMs = cpuMsOf(pid);
    if (idle) await sleep(IDLE_SECONDS * 1000);
    return { ms, cpuMs, memory: memoryOf(pid) };
  } finally {
    await stopChild(child, 10_000);
  }
}

const startBare = (dir: string, idle: boolean) => startBarePglite(dir, idle ? IDLE_SECONDS : 0);

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

interface Series {
  firstMs: number[];
  firstCpuMs: number[];
  firstPeakMb: number[];
  restartMs: number[];
  restartCpuMs: number[];
  restartPeakMb: number[];
  idleMb: number[];
  bareInitMs: number[];
  bareInitCpuMs: number[];
  bareInitPeakMb: number[];
  bareReopenMs: number[];
  bareReopenCpuMs: number[];
  bareReopenPeakMb: number[];
  bareIdleMb: number[];
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const cacheDir = process.env.CACHE_DIR ? resolve(process.env.CACHE_DIR) : undefined;
  const preparing = performance.now();
  const template = await prepareTemplate(cacheDir);
  const prepareMs = performance.now() - preparing;
  const series: Series = {
    firstMs: [],
    firstCpuMs: [],
    firstPeakMb: [],
    restartMs: [],
    restartCpuMs: [],
    restartPeakMb: [],
    idleMb: [],
    bareInitMs: [],
    bareInitCpuMs: [],
    bareInitPeakMb: [],
    bareReopenMs: [],
    bareReopenCpuMs: [],
    bareReopenPeakMb: [],
    bareIdleMb: [],
  };
  for (let run = 1; run <= RUNS; run++) {
    const scratch = mkdtempSync(join(tmpdir(), 'tollgate-startup-'));
    try {
      const dataDir = join(scratch, 'data');
      const first = await startTollgate(dataDir, true);
      const restart = await startTollgate(dataDir, true);
      series.firstMs.push(first.ms);
      series.firstCpuMs.push(first.cpuMs);
      series.firstPeakMb.push(first.memory.peakMb);
      series.restartMs.push(restart.ms);
      series.restartCpuMs.push(restart.cpuMs);
      series.restartPeakMb.push(restart.memory.peakMb);
      series.idleMb.push(restart.memory.rssMb);

      const init = await startBare(join(scratch, 'bare-init'), false);
      series.bareInitMs.push(init.ms);
      series.bareInitCpuMs.push(init.cpuMs);
      series.bareInitPeakMb.push(init.memory.peakMb);
      // A copy of what the instance left, so the floor reopens the same database.
      cpSync(join(dataDir, 'pglite'), join(scratch, 'bare-reopen'), { recursive: true });
      const reopen = await startBare(join(scratch, 'bare-reopen'), true);
      series.bareReopenMs.push(reopen.ms);
      series.bareReopenCpuMs.push(reopen.cpuMs);
      series.bareReopenPeakMb.push(reopen.memory.peakMb);
      series.bareIdleMb.push(reopen.memory.rssMb);
      if (!json)
        process.stderr.write(
          `run ${run}/${RUNS}: first ${first.ms.toFixed(0)} ms, restart ${restart.ms.toFixed(0)} ms, ` +
            `bare initdb ${init.ms.toFixed(0)} ms, bare reopen ${reopen.ms.toFixed(0)} ms\n`,
        );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  const m = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, median(v)])) as Record<
    keyof Series,
    number
  >;
  const targets = [
    { name: 'first start ≤ 4 s', value: m.firstMs, limit: TARGETS.firstStartMs, unit: 'ms' },
    { name: 'restart ≤ 1.5 s', value: m.restartMs, limit: TARGETS.restartMs, unit: 'ms' },
    { name: 'first-start peak RSS ≤ 700 MB', value: m.firstPeakMb, limit: TARGETS.firstPeakMb, unit: 'MB' },
    {
      name: 'idle RSS ≤ bare reopen + 80 MB',
      value: m.idleMb,
      limit: m.bareIdleMb + TARGETS.idleOverFloorMb,
      unit: 'MB',
    },
  ].map((t) => ({ ...t, met: t.value <= t.limit }));

  if (json) {
    process.stdout.write(
      `${JSON.stringify({ node: process.version, runs: RUNS, idleSeconds: IDLE_SECONDS, template, prepareMs, series, medians: m, targets }, null, 2)}\n`,
    );
  } else {
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(30) : c.padStart(9))).join(' ');
    const line = (name: string, values: number[], unit: string) =>
      row([name, `${median(values).toFixed(0)} ${unit}`, ...values.map((v) => v.toFixed(0))]);
    process.stdout.write(
      [
        `Tollgate start-up on the embedded database — ${RUNS} runs, idle ${IDLE_SECONDS} s; Node ${process.version}`,
        `template: ${template} (prepared in ${prepareMs.toFixed(0)} ms)`,
        '',
        row(['', 'median', ...series.firstMs.map((_, i) => `run ${i + 1}`)]),
        line('first start, to ready', series.firstMs, 'ms'),
        line('first start, CPU to ready', series.firstCpuMs, 'ms'),
        line('first start, peak RSS', series.firstPeakMb, 'MB'),
        line('restart, to ready', series.restartMs, 'ms'),
        line('restart, CPU to ready', series.restartCpuMs, 'ms'),
        line('restart, peak RSS', series.restartPeakMb, 'MB'),
        line('restart, idle RSS', series.idleMb, 'MB'),
        line('floor: bare initdb, to ready', series.bareInitMs, 'ms'),
        line('floor: bare initdb, CPU', series.bareInitCpuMs, 'ms'),
        line('floor: bare initdb, peak RSS', series.bareInitPeakMb, 'MB'),
        line('floor: bare reopen, to ready', series.bareReopenMs, 'ms'),
        line('floor: bare reopen, CPU', series.bareReopenCpuMs, 'ms'),
        line('floor: bare reopen, peak RSS', series.bareReopenPeakMb, 'MB'),
        line('floor: bare reopen, idle RSS', series.bareIdleMb, 'MB'),
        '',
        ...targets.map(
          (t) =>
            `${t.met ? 'pass' : 'FAIL'}  ${t.name.padEnd(32)} ${t.value.toFixed(0)} ${t.unit} (limit ${t.limit.toFixed(0)})`,
        ),
        '',
      ].join('\n'),
    );
  }
}

try {
  await main();
} finally {
  await stopAllChildren();
}
