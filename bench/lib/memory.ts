import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstMessage, startNode, stopChild } from './children.ts';

const root = resolve(import.meta.dirname, '../..');
const MB = 1024 * 1024;

export interface Memory {
  /** Peak resident set so far (VmHWM), MB. */
  peakMb: number;
  /** Resident set now (VmRSS), MB. */
  rssMb: number;
}

/** A process's memory from /proc (Linux). */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMb: (field('VmHWM') * 1024) / MB, rssMb: (field('VmRSS') * 1024) / MB };
}

/** CPU time the process has used (all threads, user + system), ms. */
export function cpuMsOf(pid: number): number {
  // Fields after the command name, which is parenthesized and may hold spaces.
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples a process's RSS every `everyMs` until stopped; the largest value seen, MB. */
export function sampleRss(pid: number, everyMs = 250): { stop(): number } {
  let max = 0;
  const sample = () => {
    try {
      max = Math.max(max, memoryOf(pid).rssMb);
    } catch {
      // The process ended: what was seen stands.
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

export interface Start {
  ms: number;
  /** CPU used until ready: unlike wall time, barely moved by what else the machine runs. */
  cpuMs: number;
  memory: Memory;
}

/**
 * bench/lib/bare-pglite.ts on `dir` (initdb when empty, else a reopen): time to its first
 * answered query, and its memory after idling `idleSeconds`. The floor Tollgate's memory is
 * measured against.
 */
export async function startBarePglite(dir: string, idleSeconds: number): Promise<Start> {
  const started = performance.now();
  const child = startNode(join(root, 'bench/lib/bare-pglite.ts'), { args: [dir], cwd: root });
  try {
    await firstMessage(child, 'bare PGlite');
    const ms = performance.now() - started;
    const cpuMs = cpuMsOf(child.pid as number);
    if (idleSeconds > 0) await sleep(idleSeconds * 1000);
    return { ms, cpuMs, memory: memoryOf(child.pid as number) };
  } finally {
    await stopChild(child, 10_000);
  }
}
