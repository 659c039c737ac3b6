/** Latency in milliseconds to the hundredth (load.ts times every response itself). */
export function milliseconds(value: number): string {
  return Number.isNaN(value) ? '–' : value.toFixed(2);
}
