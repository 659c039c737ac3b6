import type { LoadResult } from './load.ts';
import { milliseconds } from './report.ts';
import type { SignResult } from './sign.ts';

/** What each token endpoint run measures (bench/token.ts). */
export type TokenEndpoint = 'client_credentials' | 'introspection' | 'refresh_token' | 'authorization_code';

export const ENDPOINT_NAMES: Record<TokenEndpoint, string> = {
  client_credentials: 'POST /token client_credentials',
  introspection: 'POST /token/introspection (JWT)',
  refresh_token: 'POST /token refresh_token',
  authorization_code: 'POST /token authorization_code',
};

/** Issue 14's targets: Hydra's published 2-CPU introspection figure, issuance per raw sign. */
export const TARGETS = {
  introspectionRps: 5000,
  introspectionP99Ms: 10,
  issuanceToSign: { one: 0.35, auto: 0.5 },
  issuanceP99Ms: 15,
} as const;

export interface EndpointResult {
  endpoint: TokenEndpoint;
  result: LoadResult;
  /**
   * Raw signs/s measured just before and just after this run (client credentials), taken
   * together: the run's ratio is taken against it, as the machine's speed drifts by a third
   * over a whole run and sometimes within one issuing run.
   */
  sign?: SignResult;
  /** Each target this run has, with its figure and whether it was met. */
  targets: { name: string; value: number; target: number; met: boolean }[];
}

export interface InstanceReport {
  database: 'embedded' | 'postgres';
  /** WORKERS as given (1 or auto). */
  workers: string;
  endpoints: EndpointResult[];
}

export interface TokenReport {
  node: string;
  cpus: number;
  settings: { seconds: number; warmupSeconds: number; connections: number; signSeconds: number };
  sign: SignResult;
  /** node:crypto ES256 signatures alone, as Tollgate's keys sign, at the start (no target). */
  nodeSign?: SignResult;
  bare: LoadResult;
  /** oidc-provider alone issuing the same client-credentials tokens (no Tollgate code around it). */
  oidcProvider?: LoadResult;
  /** Raw signs/s measured just before and after oidc-provider alone ran. */
  oidcProviderSign?: SignResult;
  instances: InstanceReport[];
  met: boolean;
}

/** The targets of one endpoint's run on an instance with `workers`. */
export function endpointTargets(
  endpoint: TokenEndpoint,
  workers: string,
  result: LoadResult,
  /** Raw signing measured around the run (client credentials only). */
  sign: SignResult | undefined,
): EndpointResult['targets'] {
  if (endpoint === 'introspection' && workers === '1')
    return [
      {
        name: 'req/s',
        value: result.rps,
        target: TARGETS.introspectionRps,
        met: result.rps >= TARGETS.introspectionRps,
      },
      ...p99Target(result, TARGETS.introspectionP99Ms),
    ];
  if (endpoint === 'client_credentials' && sign) {
    const target = workers === '1' ? TARGETS.issuanceToSign.one : TARGETS.issuanceToSign.auto;
    const ratio = result.rps / sign.signsPerSecond;
    return [
      { name: '÷ raw signs/s', value: ratio, target, met: ratio >= target },
      ...p99Target(result, TARGETS.issuanceP99Ms),
    ];
  }
  return [];
}

function p99Target(result: LoadResult, ms: number): EndpointResult['targets'] {
  return [{ name: 'p99 ms (≤)', value: result.p99, target: ms, met: result.p99 <= ms }];
}

/** A signing figure taken around a run: both measurements and what the ratio is taken against. */
function aroundText(sign: SignResult): string {
  const { before, after } = sign;
  if (!before || !after) return `just before: ${sign.signsPerSecond.toFixed(0)}/s`;
  return (
    `before / after the run: ${before.signsPerSecond.toFixed(0)} / ${after.signsPerSecond.toFixed(0)}/s, ` +
    `together ${sign.signsPerSecond.toFixed(0)}/s`
  );
}

/** The human-readable report. */
export function formatTokenReport(report: TokenReport): string {
  const { settings: s } = report;
  const row = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(34) : cell.padStart(10))).join(' ');
  const lines = [
    `Tollgate token endpoints — ${s.seconds} s per run after ${s.warmupSeconds} s warm-up, ` +
      `${s.connections} connections; Node ${report.node}, ${report.cpus} CPUs`,
    `raw jose ES256 signatures: ${report.sign.signsPerSecond.toFixed(0)}/s on one thread ` +
      `(${report.sign.signs} in ${report.sign.seconds.toFixed(1)} s) at the start; measured again ` +
      'just before and after each issuing run, whose ratio is taken against both together',
    `bare node:http: ${report.bare.rps.toFixed(0)} req/s, p99 ${milliseconds(report.bare.p99)} ms`,
  ];
  const nodeSign = report.nodeSign;
  if (nodeSign)
    lines.splice(
      2,
      0,
      `raw node:crypto ES256 signatures, as Tollgate's keys sign (no JWT around them): ` +
        `${nodeSign.signsPerSecond.toFixed(0)}/s on one thread at the start, for comparison`,
    );
  const alone = report.oidcProvider;
  const aloneSign = report.oidcProviderSign ?? report.sign;
  if (alone)
    lines.push(
      `oidc-provider alone, client_credentials: ${alone.rps.toFixed(0)} tokens/s ` +
        `(${(alone.rps / aloneSign.signsPerSecond).toFixed(3)} of raw signs/s ${aroundText(aloneSign)}), ` +
        `p99 ${milliseconds(alone.p99)} ms, ` +
        `${alone.server ? alone.server.cpuMicrosPerRequest.toFixed(0) : '–'} CPU µs/token`,
    );
  for (const instance of report.instances) {
    lines.push(
      '',
      `${instance.database}, WORKERS=${instance.workers}`,
      row(['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'non-2xx', 'errors']),
    );
    for (const { endpoint, result, targets, sign } of instance.endpoints) {
      lines.push(
        row([
          ENDPOINT_NAMES[endpoint],
          result.rps.toFixed(0),
          milliseconds(result.p50),
          milliseconds(result.p99),
          result.server ? result.server.cpuMicrosPerRequest.toFixed(0) : '–',
          String(result.non2xx),
          String(result.errors),
        ]),
      );
      if (sign) lines.push(`    raw jose ES256 signatures ${aroundText(sign)}`);
      if (sign && nodeSign)
        lines.push(
          `    for comparison, ÷ raw node:crypto signs/s at the start: ${(result.rps / nodeSign.signsPerSecond).toFixed(3)} (no target)`,
        );
      for (const t of targets)
        lines.push(
          `    ${t.name} ${t.value.toFixed(t.value < 10 ? 3 : 0)}, target ${t.target}: ${t.met ? 'MET' : 'NOT MET'}`,
        );
    }
  }
  lines.push('', `all targets: ${report.met ? 'MET' : 'NOT MET'}`);
  return lines.join('\n');
}
