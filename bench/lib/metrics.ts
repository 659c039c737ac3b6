/**
 * Reading Tollgate's Prometheus metrics (`GET /metrics`, text exposition format) around a load
 * run: histogram bucket deltas give the server-side distribution of the run alone.
 */

/** One scrape: every sample line as `name{labels}` → value. */
export type Scrape = Map<string, { name: string; labels: Record<string, string>; value: number }>;

export async function scrapeMetrics(metricsUrl: string): Promise<Scrape> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseExposition(await response.text());
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, name = '', labelText = '', raw = ''] = match;
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of labelText.matchAll(LABEL)) labels[key] = value;
    samples.set(`${name}{${labelText}}`, { name, labels, value: Number(raw) });
  }
  return samples;
}

/** Sum of `name` samples whose labels include `match`, after minus before. */
export function counterDelta(
  before: Scrape,
  after: Scrape,
  name: string,
  match: Record<string, string> = {},
): number {
  const sum = (scrape: Scrape) => {
    let total = 0;
    for (const sample of scrape.values()) {
      if (sample.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => sample.labels[k] === v)) total += sample.value;
    }
    return total;
  };
  return sum(after) - sum(before);
}

/** A histogram's observations between two scrapes, all label sets summed. */
export interface HistogramDelta {
  /** Upper bounds (seconds, ascending, +Inf last) and cumulative counts. */
  buckets: { le: number; count: number }[];
  count: number;
  sumSeconds: number;
}

export function histogramDelta(before: Scrape, after: Scrape, name: string): HistogramDelta {
  const byLe = new Map<number, number>();
  for (const [key, sample] of after) {
    if (sample.name !== `${name}_bucket`) continue;
    const le = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
    const delta = sample.value - (before.get(key)?.value ?? 0);
    byLe.set(le, (byLe.get(le) ?? 0) + delta);
  }
  const buckets = [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  return {
    buckets,
    count: counterDelta(before, after, `${name}_count`),
    sumSeconds: counterDelta(before, after, `${name}_sum`),
  };
}

/** A quantile estimate from bucket counts, and the bucket it falls in. */
export interface QuantileEstimate {
  /** Linear interpolation inside the bucket, like PromQL's histogram_quantile (seconds). */
  seconds: number;
  /** The bucket's bounds: the true value is in (lower, upper]. */
  lower: number;
  upper: number;
}

export function histogramQuantile(histogram: HistogramDelta, q: number): QuantileEstimate | undefined {
  const total = histogram.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of histogram.buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return { seconds: lower, lower, upper: le };
      const inBucket = count - below;
      const seconds = inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
      return { seconds, lower, upper: le };
    }
    lower = le;
    below = count;
  }
  return undefined;
}
