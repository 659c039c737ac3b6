import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU time (user + system, in seconds) of a process and all its descendants, from /proc (Linux).
 * Used to say how much server CPU one request costs, whatever limits the load generator. Returns
 * undefined where /proc is not available.
 */
export async function processTreeCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    let total = 0;
    for (const id of await processTree(pid)) total += await processCpuSeconds(id);
    return total;
  } catch {
    return undefined;
  }
}

/** utime + stime of one process (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (stat === '') return 0; // exited between listing and reading
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/**
 * The machine's CPU time so far, all CPUs, in clock ticks: in total and stolen (the `steal`
 * column of /proc/stat: time a virtual machine's CPUs were runnable but the hypervisor ran
 * someone else). Undefined where /proc is not available.
 */
export async function machineTicks(): Promise<{ total: number; steal: number } | undefined> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] ?? 0 };
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

async function processTree(pid: number): Promise<number[]> {
  const all = [pid];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const list = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of list.split(' ').filter(Boolean)) all.push(...(await processTree(Number(child))));
  }
  return all;
}

/** A CPU list as `taskset -c` takes it, e.g. "1". */
export type ProcessCpus = string;

/** Where the benchmark runs what: servers on one CPU, the load generator on another. */
export interface Pinning {
  serverCpus?: ProcessCpus;
  loadCpus?: ProcessCpus;
  /** One line for the report header: what was done, or why nothing was. */
  description: string;
}

/**
 * Pins this process (every thread: autocannon runs in it) to the first CPU it may use and
 * returns the second one for the servers, so the server under test and the load generator do
 * not take turns on one core. Without taskset or a second CPU nothing is pinned, and the
 * description says so.
 */
export function pinLoadGenerator(): Pinning {
  if (process.platform !== 'linux') return { description: 'nothing pinned (not Linux)' };
  const query = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  if (query.error || query.status !== 0) return { description: 'nothing pinned (taskset not found)' };
  // "pid 123's current affinity list: 0,1" or "0-3".
  const cpus = expandCpuList(query.stdout.slice(query.stdout.lastIndexOf(':') + 1).trim());
  const [load, server] = cpus;
  if (load === undefined || server === undefined)
    return { description: `nothing pinned (this process may use only CPU ${cpus.join(',')})` };
  const pin = spawnSync('taskset', ['-a', '-cp', String(load), String(process.pid)], { stdio: 'ignore' });
  if (pin.status !== 0) return { description: 'nothing pinned (taskset could not pin this process)' };
  return {
    serverCpus: String(server),
    loadCpus: String(load),
    description:
      `servers under taskset -c ${server} (every thread and child), autocannon in this process on CPU ${load}; ` +
      'other programs on the machine are not pinned',
  };
}

function expandCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) return [];
    const last = to !== undefined && Number.isInteger(to) ? to : from;
    return Array.from({ length: last - from + 1 }, (_, i) => from + i);
  });
}

/** `command args` run on `cpus` (through taskset, which execs it: same pid), or as it is. */
export function onCpus(command: string, args: string[], cpus: ProcessCpus | undefined): [string, string[]] {
  return cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
}
