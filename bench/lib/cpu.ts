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
