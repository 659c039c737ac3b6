import type { LoadResult } from './load.ts';
import type { SignResult } from './sign.ts';

/** token rps ÷ raw signs/s must reach this: the service may spend at most ~60 % on overhead. */
export const TARGET_TOKEN_TO_SIGN = 0.4;

export interface BenchReport {
  node: string;
  cpus: number;
  settings: { seconds: number; warmupSeconds: number; connections: number; signSeconds: number };
  token: LoadResult;
  bare: LoadResult;
  sign: SignResult;
  ratios: { tokenToBare: number; tokenToSign: number };
  target: { tokenToSign: number; met: boolean };
}

export function buildReport(parts: Omit<BenchReport, 'ratios' | 'target'>): BenchReport {
  const tokenToSign = parts.token.rps / parts.sign.signsPerSecond;
  return {
    ...parts,
    ratios: { tokenToBare: parts.token.rps / parts.bare.rps, tokenToSign },
    target: { tokenToSign: TARGET_TOKEN_TO_SIGN, met: tokenToSign >= TARGET_TOKEN_TO_SIGN },
  };
}

/** Latency in milliseconds to the hundredth (load.ts times every response itself). */
export function milliseconds(value: number): string {
  return Number.isNaN(value) ? '–' : value.toFixed(2);
}

/** The human-readable table. */
export function formatReport(report: BenchReport): string {
  const { settings: s } = report;
  const row = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(24) : cell.padStart(10))).join(' ');
  const load = (name: string, r: LoadResult) =>
    row([
      name,
      r.rps.toFixed(0),
      milliseconds(r.p50),
      milliseconds(r.p99),
      String(r.requests),
      String(r.non2xx),
      String(r.errors),
    ]);
  const statusCodes = Object.entries(report.token.statusCodes)
    .map(([code, count]) => `${code}×${count}`)
    .join(', ');
  const ratio = (v: number) => v.toFixed(3);
  return [
    `Tollgate token benchmark — ${s.seconds} s per target after ${s.warmupSeconds} s warm-up, ` +
      `${s.connections} connections; Node ${report.node}, ${report.cpus} CPUs`,
    '',
    row(['target', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors']),
    load('POST /token (ES256)', report.token),
    load('bare node:http', report.bare),
    row(['raw jose ES256 sign', report.sign.signsPerSecond.toFixed(0), '', '', String(report.sign.signs)]) +
      `   signs/s, one thread, ${report.sign.seconds.toFixed(1)} s`,
    '',
    `token status codes: ${statusCodes || 'none'}`,
    `token ÷ bare        ${ratio(report.ratios.tokenToBare)}`,
    `token ÷ raw sign    ${ratio(report.ratios.tokenToSign)}   target ≥ ${TARGET_TOKEN_TO_SIGN}: ${
      report.target.met ? 'MET' : 'NOT MET'
    }`,
  ].join('\n');
}
