import autocannon from 'autocannon';

/** What the benchmark keeps from one autocannon run. */
export interface LoadResult {
  /** Completed requests per second over the whole run (all status codes). */
  rps: number;
  requests: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
}

export interface LoadSettings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

export interface LoadTarget {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

let running: autocannon.Instance | undefined;

/** Stops the load in progress, if any, so servers being shut down see their connections go idle. */
export function stopLoad(): void {
  running?.stop();
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    running = autocannon(options, (error: unknown, result) => {
      running = undefined;
      if (error) reject(error);
      else resolve(result);
    });
  });
}

/**
 * Drives one target with autocannon: a short warm-up (JIT, connection pools, caches) whose
 * figures are discarded, then the measured run with the same settings.
 */
export async function measure(target: LoadTarget, settings: LoadSettings): Promise<LoadResult> {
  const options = {
    url: target.url,
    method: target.method,
    headers: target.headers,
    body: target.body,
    connections: settings.connections,
    pipelining: 1,
  };
  if (settings.warmupSeconds > 0) await run({ ...options, duration: settings.warmupSeconds });
  const result = await run({ ...options, duration: settings.seconds });
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stat.count ?? 0;
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    durationSeconds: result.duration,
  };
}
