import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DecisionRequest, LogPreviewReport, PolicyFile, PreviewReport } from '../../pdp/index.ts';
import { type OptionValues, optionalString, requiredString } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { validatedCheck } from './decide.ts';
import { compileDir, dirDetails, policyDir, testOrFail } from './policy-dir.ts';

const COMMAND = 'policy preview';

// The server's bounds (MAX_PREVIEW_DECISIONS and the body schema in http/policy-routes.ts),
// checked here too so that a wrong value is a usage error naming the option.
const MAX_DECISIONS = 500_000;
const MAX_EXAMPLES = 20;

/** The options of a preview over the server's decision log, shared with `policy push --preview`. */
export const LOG_PREVIEW_OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  'max-flips': { type: 'string' },
  examples: { type: 'string' },
} as const;

export const LOG_PREVIEW_SYNOPSIS =
  '[--since DURATION|DATE] [--until DATE] [--limit N] [--max-flips N] [--examples K]';

export const LOG_PREVIEW_DETAILS = [
  '--since            a duration back from now (30m, 24h, 7d) or an ISO 8601 date-time with offset',
  '--until            an ISO 8601 date-time with offset (default: now)',
  `--limit            the newest N recorded decisions of the window are replayed (default 100000, at most ${MAX_DECISIONS})`,
  '--max-flips        exit 1 when more than N decisions flip (a gate for policy changes)',
  `--examples         example requests kept per group of flips (default 3; from the log at most ${MAX_EXAMPLES})`,
];

/**
 * `tollgate policy preview`: which decisions a policy change would flip (pdp/preview.ts), before
 * it is pushed. By default the server replays its decision log against the set in force and the
 * candidate (POST /admin/policies/preview); with `--requests` a file of /decide bodies is
 * replayed locally against `--current`. `--max-flips N` makes it a gate (exit 1 above N) for a
 * policy pull request.
 */
export const previewPolicies: Command = {
  path: ['policy', 'preview'],
  options: {
    dir: { type: 'string' },
    ...LOG_PREVIEW_OPTIONS,
    current: { type: 'string' },
    requests: { type: 'string' },
  },
  synopsis: `[--dir DIR] ${LOG_PREVIEW_SYNOPSIS} [--requests FILE --current DIR]`,
  summary:
    "replay the server's recorded decisions (or a workload) against a candidate set and group what flips",
  details: [
    ...dirDetails.map((line) => line.replace('the policy directory', 'the candidate policies')),
    ...LOG_PREVIEW_DETAILS,
    '--requests         instead of the decision log, JSON lines each a /decide body with an explicit',
    '                   subject, replayed locally (no server; not with --since, --until, --limit)',
    '--current          with --requests: the policies in force, to compare with',
    'The candidate is validated and its tests run first, as policy push does; nothing is stored.',
  ],
  async run({ values }, ctx) {
    if (optionalString(values, 'requests') === undefined) {
      if (values.current !== undefined)
        throw usageError(
          '--current goes with --requests; without them the server compares with the set in force',
          COMMAND,
        );
      const request = logPreviewRequest(values, COMMAND);
      const compiled = await compileDir(policyDir(values, ctx));
      testOrFail(compiled);
      const report = await previewLog(ctx, compiled.files, request);
      refuseOverMaxFlips(report, request.maxFlips, describeLog(report));
      ctx.out.result(report, () => describeLog(report));
      return;
    }
    for (const option of ['since', 'until', 'limit'])
      if (values[option] !== undefined)
        throw usageError(`--${option} reads the decision log; it cannot go with --requests`, COMMAND);
    const maxFlips = count(values, 'max-flips', COMMAND);
    const examples = count(values, 'examples', COMMAND) ?? 3;
    const requestsFile = requiredString(values, 'requests', COMMAND);
    const currentDir = resolve(requiredString(values, 'current', COMMAND));
    const requests = await readRequests(requestsFile);
    const [current, candidate] = [await compileDir(currentDir), await compileDir(policyDir(values, ctx))];
    const report = current.pdp.previewChange(current.set, candidate.set, requests, { examples });
    refuseOverMaxFlips(report, maxFlips, describe(report));
    ctx.out.result(report, () => describe(report));
  },
};

/** A preview over the decision log as the server answers it. */
export interface ServerPreviewReport extends LogPreviewReport {
  current_version: number;
  window: { since: string | null; until: string | null; limit: number };
  /** `unreadable`: decisions of log rows whose lines are missing or edited, not counted in `read`. */
  skipped: LogPreviewReport['skipped'] & { unreadable: number };
}

/** What to ask the server, from the command line: checked before any file is read. */
export interface LogPreviewRequest {
  since?: string;
  until?: string;
  limit: number;
  examples: number;
  maxFlips?: number;
}

export function logPreviewRequest(values: OptionValues, command: string): LogPreviewRequest {
  const since = instantOption(values, 'since', command, true);
  const until = instantOption(values, 'until', command, false);
  return {
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    limit: count(values, 'limit', command, 1, MAX_DECISIONS) ?? 100_000,
    examples: count(values, 'examples', command, 0, MAX_EXAMPLES) ?? 3,
    maxFlips: count(values, 'max-flips', command),
  };
}

/** Sends the candidate's files to POST /admin/policies/preview; the server validates and tests them again. */
export async function previewLog(
  ctx: CommandContext,
  files: PolicyFile[],
  { maxFlips: _, ...request }: LogPreviewRequest,
): Promise<ServerPreviewReport> {
  const admin = await ctx.admin();
  return (await admin.request('POST', '/policies/preview', { files, ...request })) as ServerPreviewReport;
}

/** The gate of `--max-flips`: the report is still printed (and is the JSON result) when it stops. */
export function refuseOverMaxFlips(
  report: PreviewReport,
  maxFlips: number | undefined,
  lines: string[],
  consequence = '',
): void {
  if (maxFlips === undefined || report.flipped <= maxFlips) return;
  throw failure(
    `${lines.join('\n')}\n${report.flipped} flips, more than --max-flips ${maxFlips}${consequence}`,
    report,
  );
}

function count(
  values: OptionValues,
  option: string,
  command: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const given = optionalString(values, option);
  if (given === undefined) return undefined;
  if (!/^\d+$/.test(given)) throw usageError(`--${option} must be a whole number`, command);
  const value = Number(given);
  if (value < min || value > max)
    throw usageError(`--${option} must be from ${min} to ${max}, not ${given}`, command);
  return value;
}

const DURATION = /^(\d+)([mhd])$/;
// What the server takes (an ISO 8601 date-time with an offset); a bare date or local time would
// be read in some zone the user did not say.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** An instant option as the server's ISO string; `--since` also takes a duration back from now. */
function instantOption(
  values: OptionValues,
  option: string,
  command: string,
  duration: boolean,
): string | undefined {
  const value = optionalString(values, option);
  if (value === undefined) return undefined;
  const relative = duration ? DURATION.exec(value) : null;
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  const time = DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time))
    throw usageError(
      `--${option} ${value}: expected an ISO 8601 date-time with offset (e.g. 2026-11-23T10:00:00Z)${duration ? ' or a duration such as 24h' : ''}`,
      command,
    );
  return new Date(time).toISOString();
}

/** The requests of a JSON-lines file, each validated as /decide validates its body. */
async function readRequests(file: string): Promise<DecisionRequest[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw failure(`--requests: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const requests: DecisionRequest[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let body: unknown;
    try {
      body = JSON.parse(line);
    } catch {
      throw usageError(`--requests: line ${i + 1} is not valid JSON`, COMMAND);
    }
    const where = `--requests: line ${i + 1}: `;
    requests.push(await validatedCheck(body, `${where}subject: `, COMMAND, where));
  }
  return requests;
}

const n = (value: number) => value.toLocaleString('en-US');

/**
 * A server preview for people: what was read and what could not be replayed and why (a
 * preview that replayed little says little), then the flips as for a workload.
 */
export function describeLog(report: ServerPreviewReport): string[] {
  const { read, replayed, skipped, hashed, window } = report;
  const notReplayed = [
    ...(skipped.unreadable > 0
      ? [
          `${n(skipped.unreadable)} in log rows that could not be read (missing or edited; tollgate audit verify names them)`,
        ]
      : []),
    ...(skipped.no_inputs > 0
      ? [
          `${n(skipped.no_inputs)} recorded without inputs (DECISION_LOG_INPUTS=off or a refused subject token)`,
        ]
      : []),
    ...(skipped.other_key > 0
      ? [`${n(skipped.other_key)} hashed under another key (KEY_ENCRYPTION_KEY changed since)`]
      : []),
    ...Object.entries(skipped.ordered).map(([type, count]) => {
      const rules = hashed.ordered_rules[type] ?? [];
      return `${n(count)} hashed about ${type}, whose ${rules.length === 1 ? 'rule' : 'rules'} ${rules.join(', ')} ${rules.length === 1 ? 'orders' : 'order'} values`;
    }),
  ];
  const span = [
    ...(window.since ? [`since ${window.since}`] : []),
    ...(window.until ? [`until ${window.until}`] : []),
  ];
  const lines = [
    `Read ${n(read)} recorded decision${read === 1 ? '' : 's'}${span.length ? ` ${span.join(' ')}` : ''} (policy version ${report.current_version} in force); replayed ${n(replayed)}${hashed.replayed > 0 ? ` (${n(hashed.replayed)} from hashed inputs)` : ''}${notReplayed.length ? `; not replayed: ${notReplayed.join(', ')}` : ''}`,
  ];
  if (read >= window.limit)
    lines.push(
      `Stopped at --limit ${n(window.limit)}: older decisions of the window, if any, were not read.`,
    );
  return [...lines, ...describe(report)];
}

function describe(report: PreviewReport): string[] {
  const lines = [
    `${report.replayed} requests replayed: ${report.flipped} would flip, ${report.rule_changed} keep their answer by another rule`,
  ];
  for (const [type, n] of Object.entries(report.unknown_types))
    lines.push(`${n} about ${type}, which one of the sets has no policy for (not compared)`);
  for (const group of report.flips) {
    lines.push(
      `  ${group.count}  ${group.resource}  ${group.change}  ${group.from_rule ?? 'no_matching_rule'} → ${group.to_rule ?? 'no_matching_rule'}`,
    );
    for (const example of group.examples)
      lines.push(
        `      e.g. ${JSON.stringify({ subject: example.subject, action: example.action, resource: example.resource })}`,
      );
  }
  return lines;
}
