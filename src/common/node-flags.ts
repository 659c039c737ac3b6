/**
 * Node flags the service runs with: `npm start`, the container's CMD and every cluster worker
 * (src/http/workers.ts) carry exactly these, and the benchmarks start it with them, so what is
 * measured is what a user runs (docs/architecture.md, "Runtime flags").
 *
 * `--max-semi-space-size=16` (MiB): V8 sizes the young generation from the machine's memory;
 * on a 24 GiB host that is 64 MiB semi-spaces, and every scavenge of a full one stops the event
 * loop for 8–20 ms (up to 36 ms), four to six times a second under token load (a token
 * request allocates about 70 KB on the request thread, nearly all of it oidc-provider's). Those
 * pauses, not the work, were the token endpoints' p99. At 16 MiB a scavenge takes about 3 ms,
 * more often, for the same total: client-credentials p99 went from 16–26 ms to 10–12 ms at the
 * same throughput (bench/token.ts). Smaller (8, 4) spends more in the collector overall; 32
 * brings the tail back. V8 reads this only at start (v8.setFlagsFromString does not resize
 * the young generation), so it has to be on the command line.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * `execArgv` plus each service flag that neither it nor NODE_OPTIONS already sets, for a
 * process the service starts for itself (a cluster worker): a size the operator chose wins.
 */
export function withServiceNodeFlags(
  execArgv: readonly string[],
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): string[] {
  // V8 accepts `_` for `-` in flag names.
  const nameOf = (flag: string) => (flag.split('=')[0] as string).replaceAll('_', '-');
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map(nameOf));
  return [...execArgv, ...SERVICE_NODE_FLAGS.filter((flag) => !given.has(nameOf(flag)))];
}
