import { parseArgs } from 'node:util';
import { stopAllChildren } from './children.ts';
import { stopLoad } from './load.ts';

/** Progress goes to stderr so `--json` output on stdout stays parseable. */
export const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

/**
 * The command line and environment shared by the load benchmarks. Bad flags or settings stop
 * the run before it creates anything, with one clear line and exit code 2. `defaults` changes
 * what BENCH_CONNECTIONS is when unset.
 */
export function benchCommandLine(
  usage: string,
  extraFlags: string[] = [],
  defaults: { connections?: number } = {},
) {
  const usageError = (message: string): never => {
    progress(message);
    progress(`usage: ${usage}`);
    process.exit(2);
  };
  const options: Record<string, { type: 'boolean'; default: boolean }> = {
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  };
  for (const flag of extraFlags) options[flag] = { type: 'boolean', default: false };
  let flags: Record<string, boolean | undefined>;
  try {
    flags = parseArgs({ options }).values as Record<string, boolean | undefined>;
  } catch (error) {
    return usageError((error as Error).message);
  }
  const envNumber = (name: string, fallback: number, min: number): number => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min)
      usageError(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
    return value;
  };
  return {
    flags,
    usageError,
    envNumber,
    load: {
      seconds: envNumber('BENCH_SECONDS', 10, 1),
      warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2, 0),
      connections: envNumber('BENCH_CONNECTIONS', defaults.connections ?? 16, 1),
    },
    serverUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

/**
 * Cleanup and signal handling shared by the benchmarks: children stop first, then the rest in
 * reverse order of registration (Tollgate before its database); after SIGINT/SIGTERM nothing
 * new starts and everything is cleaned up.
 */
export function benchLifecycle() {
  const cleanups: Array<() => Promise<void>> = [];
  let interrupted = false;
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of [stopAllChildren, ...cleanups.splice(0).reverse()]) {
      await cleanup().catch((error: unknown) => progress(`cleanup failed: ${String(error)}`));
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: cleaning up`);
      interrupted = true;
      stopLoad();
      void cleanUp().finally(() => process.exit(130));
    });
  }
  return {
    onCleanup(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup);
    },
    /** Between phases: after a signal, start nothing new. */
    checkInterrupted(): void {
      if (interrupted) throw new Error('interrupted');
    },
    /** Runs the benchmark; its result is the exit code, a failure is exit 1. */
    run(main: () => Promise<number>): void {
      main()
        .then(
          (code) => {
            process.exitCode = code;
          },
          (error: unknown) => {
            if (!interrupted)
              progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            process.exitCode = 1;
          },
        )
        .finally(cleanUp);
    },
  };
}
