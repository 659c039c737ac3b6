/**
 * Cerbos as the peer of bench/peer.ts: its server binary from the npm package
 * @cerbos/cerbos-linux-x64, started as a child with GOMAXPROCS=1, a disk policy store in a
 * temporary directory (a copy of bench/cerbos/), HTTP on a free port, and audit and decision
 * logging off (Cerbos's defaults), telemetry off.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { assertRunning, freePort, startProgram, stopChild } from './children.ts';
import type { ProcessCpus } from './cpu.ts';

/** The Cerbos policies equivalent to ./policies (derived roles and two resource policies). */
export const CERBOS_POLICY_DIR = resolve(import.meta.dirname, '../cerbos');

export type CerbosBinary = { path: string; version: string } | { problem: string };

/** The installed Cerbos server binary and its version, or why it cannot run on this machine. */
export function findCerbos(): CerbosBinary {
  let path: string;
  try {
    // The package's main is the binary itself.
    path = createRequire(import.meta.url).resolve('@cerbos/cerbos-linux-x64');
  } catch {
    return { problem: '@cerbos/cerbos-linux-x64 is not installed (it installs on Linux x64 only)' };
  }
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error || run.status !== 0) {
    const why = run.error?.message ?? `exit ${run.status}: ${run.stderr.trim()}`;
    return { problem: `${path} does not run here (${why})` };
  }
  return { path, version: run.stdout.split('\n')[0]?.trim() ?? 'unknown' };
}

export interface CerbosServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Its Prometheus metrics (GET /_cerbos/metrics, on by default). */
  metricsUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Compiles the policies (a clear error if one is wrong), then starts the server and waits for it. */
export async function startCerbos(options: { binary: string; cpus?: ProcessCpus }): Promise<CerbosServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-bench-cerbos-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const policyDir = join(dir, 'policies');
    await mkdir(policyDir);
    for (const name of (await readdir(CERBOS_POLICY_DIR)).filter((n) => /\.ya?ml$/.test(n)))
      await copyFile(join(CERBOS_POLICY_DIR, name), join(policyDir, name));
    const compile = spawnSync(options.binary, ['compile', policyDir], { encoding: 'utf8' });
    if (compile.status !== 0)
      throw new Error(`cerbos compile of bench/cerbos failed:\n${compile.stdout}${compile.stderr}`);

    const port = await freePort();
    const configPath = join(dir, 'config.yaml');
    await writeFile(
      configPath,
      stringify({
        server: {
          httpListenAddr: `127.0.0.1:${port}`,
          // Cerbos always serves gRPC too; it gets a port of its own and no load.
          grpcListenAddr: `127.0.0.1:${await freePort()}`,
        },
        storage: { driver: 'disk', disk: { directory: policyDir, watchForChanges: false } },
        // Written out although they are the defaults: no audit or decision log, no telemetry.
        audit: { enabled: false },
        telemetry: { disabled: true },
      }),
    );
    const { child, output } = startProgram(
      options.binary,
      ['server', `--config=${configPath}`, '--log-level=warn'],
      {
        env: { PATH: process.env.PATH, GOMAXPROCS: '1', CERBOS_NO_TELEMETRY: '1' },
        ...(options.cpus ? { cpus: options.cpus } : {}),
      },
    );
    const url = `http://127.0.0.1:${port}`;
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= stopChild(child).then(remove);
      return stopping;
    };
    try {
      await waitHealthy(url, child);
    } catch (error) {
      await stop();
      throw new Error(`${(error as Error).message}; Cerbos said:\n${output()}`);
    }
    return { url, metricsUrl: `${url}/_cerbos/metrics`, child, stop };
  } catch (error) {
    await remove();
    throw error;
  }
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    assertRunning(child, 'Cerbos');
    const status = await fetch(`${url}/_cerbos/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error(`Cerbos at ${url} was not healthy within ${timeoutMs / 1000} s`);
}
