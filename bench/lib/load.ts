import autocannon from 'autocannon';
import { machineTicks, processTreeCpuSeconds } from './cpu.ts';

/** What the benchmark keeps from one autocannon run. */
export interface LoadResult {
  /** Completed requests per second over the whole run (all status codes). */
  rps: number;
  requests: number;
  /**
   * Latency percentiles of the 2xx responses in milliseconds, to the microsecond (autocannon's
   * own histogram keeps whole milliseconds, too coarse for a sub-millisecond service).
   */
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
  /** Monotonic clock (CLOCK_MONOTONIC, µs) at the start and end of the measured run. */
  window: { startMicros: number; endMicros: number };
  /** CPU of the load generator (this process) during the measured run, in % of one core. */
  loadGeneratorCpuPercent: number;
  /**
   * Share of the machine's CPU time the hypervisor took for others during the measured run (%):
   * above a few percent, the run's figures say more about the neighbours than the servers.
   */
  stealPercent?: number;
  /** CPU of the server process tree during the measured run, when its pid was given. */
  server?: { cpuPercent: number; cpuMicrosPerRequest: number };
}

export interface LoadSettings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Stop after this many requests instead (one-time values: as many as were minted). */
  amount?: number;
}

/**
 * One-time request bodies (a code, a refresh token): `next` gives each request its own, and
 * `answered` sees what came back for it (e.g. the rotated refresh token, for a later request).
 */
export interface BodySource {
  next(): string;
  answered(status: number, body: string, sent: string): void;
}

export interface LoadTarget {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Instead of `body`: a body per request. */
  bodies?: BodySource;
}

export interface MeasureOptions {
  /** The server's pid: its CPU time (and its children's) is read from /proc around the run. */
  serverPid?: number;
  /** Runs after the warm-up, right before the measured run (e.g. scrape metrics). */
  beforeRun?: () => Promise<void>;
  /** Runs right after the measured run. */
  afterRun?: () => Promise<void>;
}

let running: autocannon.Instance | undefined;

/** Stops the load in progress, if any, so servers being shut down see their connections go idle. */
export function stopLoad(): void {
  running?.stop();
}

function run(options: autocannon.Options, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    running = autocannon(options, (error: unknown, result) => {
      running = undefined;
      if (error) reject(error);
      else resolve(result);
    });
    if (onLatency) {
      running.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) onLatency(responseTime);
      });
    }
  });
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Drives one target with autocannon: a short warm-up (JIT, connection pools, caches) whose
 * figures are discarded, then the measured run with the same settings.
 */
export async function measure(
  target: LoadTarget,
  settings: LoadSettings,
  options: MeasureOptions = {},
): Promise<LoadResult> {
  const bodies = target.bodies;
  const autocannonOptions: autocannon.Options = {
    url: target.url,
    method: target.method,
    headers: target.headers,
    body: target.body,
    connections: settings.connections,
    pipelining: 1,
    ...(bodies
      ? {
          requests: [
            {
              setupRequest: (request, context) => {
                const body = bodies.next();
                (context as { sent?: string }).sent = body;
                return { ...request, body };
              },
              onResponse: (status, body, context) =>
                bodies.answered(status, body, String((context as { sent?: string }).sent)),
            },
          ],
        }
      : {}),
  };
  if (settings.warmupSeconds > 0) await run({ ...autocannonOptions, duration: settings.warmupSeconds });
  await options.beforeRun?.();
  const latencies = new Latencies();
  const serverCpuBefore = options.serverPid ? await processTreeCpuSeconds(options.serverPid) : undefined;
  const ticksBefore = await machineTicks();
  const ownCpuBefore = process.cpuUsage();
  const startMicros = monotonicMicros();
  const result = await run(
    {
      ...autocannonOptions,
      duration: settings.seconds,
      ...(settings.amount === undefined ? {} : { amount: settings.amount }),
    },
    (ms) => latencies.add(ms),
  );
  const endMicros = monotonicMicros();
  const ownCpu = process.cpuUsage(ownCpuBefore);
  const ticksAfter = await machineTicks();
  const serverCpuAfter = options.serverPid ? await processTreeCpuSeconds(options.serverPid) : undefined;
  await options.afterRun?.();

  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stat.count ?? 0;
  const elapsedMicros = endMicros - startMicros;
  const requests = result.requests.total;
  const serverCpuMicros =
    serverCpuBefore !== undefined && serverCpuAfter !== undefined
      ? (serverCpuAfter - serverCpuBefore) * 1e6
      : undefined;
  return {
    rps: requests / result.duration,
    requests,
    p50: latencies.quantile(0.5),
    p99: latencies.quantile(0.99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    durationSeconds: result.duration,
    window: { startMicros, endMicros },
    loadGeneratorCpuPercent: (100 * (ownCpu.user + ownCpu.system)) / elapsedMicros,
    ...(ticksBefore && ticksAfter && ticksAfter.total > ticksBefore.total
      ? {
          stealPercent:
            (100 * (ticksAfter.steal - ticksBefore.steal)) / (ticksAfter.total - ticksBefore.total),
        }
      : {}),
    ...(serverCpuMicros !== undefined
      ? {
          server: {
            cpuPercent: (100 * serverCpuMicros) / elapsedMicros,
            cpuMicrosPerRequest: serverCpuMicros / Math.max(1, requests),
          },
        }
      : {}),
  };
}

/** Every response time of a run (a few hundred thousand doubles at most). */
class Latencies {
  #values = new Float64Array(1 << 16);
  #count = 0;

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  quantile(q: number): number {
    if (this.#count === 0) return Number.NaN;
    const sorted = this.#values.subarray(0, this.#count).sort();
    return sorted[Math.min(this.#count - 1, Math.floor(q * this.#count))]!;
  }
}
