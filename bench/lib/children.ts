import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../test/helpers/net.ts';
import { onCpus, type ProcessCpus } from './cpu.ts';

export { freePort };

/** Child processes the benchmark started; stopped one by one (by their own handle) on exit. */
const children = new Set<ChildProcess>();

/**
 * Starts `node <script>` with the same Node binary that runs the benchmark (Node 24, so .ts
 * files run directly). stdout is ignored, stderr is passed through so failures are visible.
 * With `cpus` it runs under `taskset -c` (bench/lib/cpu.ts).
 */
export function startNode(
  script: string,
  options: {
    nodeArgs?: string[];
    args?: string[];
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    cpus?: ProcessCpus;
  } = {},
): ChildProcess {
  const [command, args] = onCpus(
    process.execPath,
    [...(options.nodeArgs ?? []), script, ...(options.args ?? [])],
    options.cpus,
  );
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return track(child);
}

/**
 * Starts any program (optionally under `taskset -c`), stopped with the others on exit. Its
 * stdout and stderr are kept (the last 64 KiB) for when it fails rather than printed.
 */
export function startProgram(
  program: string,
  programArgs: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; cpus?: ProcessCpus } = {},
): { child: ChildProcess; output: () => string } {
  const [command, args] = onCpus(program, programArgs, options.cpus);
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child: track(child), output: () => output };
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs` if the child is still there. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Throws when the child has exited: a crashed server fails the run instead of hanging it. */
export function assertRunning(child: ChildProcess, what: string): void {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${what} exited early (code ${child.exitCode}, signal ${child.signalCode})`);
  }
}

/** Resolves with the first IPC message of the child, or rejects if it exits before sending one. */
export function firstMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`${what} exited before it was ready (code ${code}, signal ${signal})`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
  });
}

/**
 * Runs `node <script> [...args]` to its end and collects its stdout (stderr is passed through).
 * Rejects only when the child cannot start; a non-zero exit is returned as `code`.
 */
export function runNode(
  script: string,
  args: string[] = [],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') });
    });
  });
}
