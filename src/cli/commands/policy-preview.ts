import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DecisionRequest, PreviewReport } from '../../pdp/index.ts';
import { type OptionValues, optionalString, requiredString } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { validatedCheck } from './decide.ts';
import { compileDir, dirDetails, policyDir } from './policy-dir.ts';

const COMMAND = 'policy preview';

/**
 * `tollgate policy preview`: which of a workload's decisions a policy change would flip
 * (pdp/preview.ts), before it is pushed. The workload is a file of /decide bodies, one per
 * line; `--max-flips N` makes it a gate (exit 1 above N) for a policy pull request.
 */
export const previewPolicies: Command = {
  path: ['policy', 'preview'],
  options: {
    dir: { type: 'string' },
    current: { type: 'string' },
    requests: { type: 'string' },
    'max-flips': { type: 'string' },
    examples: { type: 'string' },
  },
  synopsis: '--current DIR --requests FILE [--dir DIR] [--max-flips N] [--examples K]',
  summary: 'replay a workload against the current and a candidate policy set and group what flips',
  details: [
    ...dirDetails.map((line) => line.replace('the policy directory', 'the candidate policies')),
    '--current          the policies in force, to compare with',
    '--requests         JSON lines, each a /decide body with an explicit subject',
    '--max-flips        exit 1 when more than N decisions flip (a gate for policy changes)',
    '--examples         example requests kept per group of flips (default 3)',
  ],
  async run({ values }, ctx) {
    const maxFlips = count(values, 'max-flips');
    const examples = count(values, 'examples') ?? 3;
    const requestsFile = requiredString(values, 'requests', COMMAND);
    const currentDir = resolve(requiredString(values, 'current', COMMAND));
    const requests = await readRequests(requestsFile);
    const [current, candidate] = [await compileDir(currentDir), await compileDir(policyDir(values, ctx))];
    const report = current.pdp.previewChange(current.set, candidate.set, requests, { examples });
    const over = maxFlips !== undefined && report.flipped > maxFlips;
    if (over)
      throw failure(
        `${describe(report).join('\n')}\n${report.flipped} flips, more than --max-flips ${maxFlips}`,
        report,
      );
    ctx.out.result(report, () => describe(report));
  },
};

function count(values: OptionValues, option: string): number | undefined {
  const given = optionalString(values, option);
  if (given === undefined) return undefined;
  if (!/^\d+$/.test(given)) throw usageError(`--${option} must be a whole number`, COMMAND);
  return Number(given);
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
