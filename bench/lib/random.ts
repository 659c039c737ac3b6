/**
 * Deterministic pseudo-random numbers (mulberry32) seeded by BENCH_SEED (default 1), so that runs
 * of a benchmark compare: the same workload every time.
 */
export function seededRandom(seed = Number(process.env.BENCH_SEED ?? 1) >>> 0) {
  let state = seed;
  function random(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  return { random, pick };
}
