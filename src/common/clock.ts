/** Milliseconds since the epoch, like `Date.now`; injected where tests need to skew a clock. */
export type Clock = () => number;

/** Seconds since the epoch; the unit of every JWT time claim (RFC 7519 §2 NumericDate). */
export function epochSeconds(date: Date = new Date()): number {
  return Math.floor(date.getTime() / 1000);
}
