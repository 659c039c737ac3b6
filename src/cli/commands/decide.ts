import { readFile } from 'node:fs/promises';
import type { ConditionTrace, Decision, DecisionRequest, Explanation, Subject } from '../../pdp/index.ts';
import { type OptionValues, optionalString, requiredString } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { compileDir, dirDetails, policyDir } from './policy-dir.ts';

const COMMAND = 'decide explain';

/**
 * `tollgate decide explain`: one check against a policy directory, with the explanation
 * `POST /decide` gives with `"explain": true` (pdp/explain.ts), for policy authors before a push.
 * The request is validated with /decide's own schema, so what passes here passes there.
 */
const explainDecision: Command = {
  path: ['decide', 'explain'],
  options: {
    dir: { type: 'string' },
    subject: { type: 'string' },
    action: { type: 'string' },
    resource: { type: 'string' },
    field: { type: 'string' },
    context: { type: 'string' },
  },
  synopsis:
    '--subject JSON|FILE --action A --resource JSON|FILE [--field F] [--context JSON|FILE] [--dir DIR]',
  summary: 'decide one check against a policy directory and show, rule by rule, why',
  details: [
    '--subject          { "id": …, "roles": […], "attrs": {…} }, inline or in a file',
    '--resource         { "type": …, "id": …, "attrs": {…} }, inline or in a file',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
    '--context          the request context the placeholders ${context.…} read',
    ...dirDetails,
    'Exits 0 whatever the decision; --json prints { decision, explanation }.',
  ],
  async run({ values }, ctx) {
    const body = {
      subject: await jsonOption(values, 'subject', true),
      action: requiredString(values, 'action', COMMAND),
      resource: await jsonOption(values, 'resource', true),
      ...optionalEntry('field', optionalString(values, 'field')),
      ...optionalEntry('context', await jsonOption(values, 'context', false)),
    };
    const dir = policyDir(values, ctx);
    const check = await validatedCheck(body, '--subject: ', COMMAND);
    const compiled = await compileDir(dir);
    if (!compiled.set.hasResource(check.resource.type))
      throw failure(`resource.type: no policy for resource type ${check.resource.type} in ${dir}`);
    const decision = compiled.set.decide(check);
    const explanation = compiled.set.explain(check);
    ctx.out.result({ decision, explanation }, () => describe(decision, explanation));
  },
};

/**
 * A /decide single-check body with an explicit subject, validated with /decide's own schema, as
 * the request the policy set decides. A token subject is refused (only the server can verify
 * one). Errors are usage errors of `command`: `tokenPrefix` before the token refusal, and
 * `prefix` before the field a validation error names.
 */
export async function validatedCheck(
  body: unknown,
  tokenPrefix: string,
  command: string,
  prefix = '',
): Promise<DecisionRequest> {
  const [{ bodiesFor }, common] = await Promise.all([
    import('../../decide/index.ts'),
    import('../../common/index.ts'),
  ]);
  const given = (body as { subject?: unknown } | null)?.subject;
  if (given !== null && typeof given === 'object' && 'token' in given)
    throw usageError(
      `${tokenPrefix}give { "id", "roles", "attrs" }: a subject token is verified by the server only`,
      command,
    );
  try {
    common.assertSafeJson(body);
    const { subject, action, resource, field, context } = common.parseInput(bodiesFor(body).single, body);
    // An explicit subject: a token subject was refused above.
    return { subject: subject as Subject, action, resource, field, context };
  } catch (error) {
    if (error instanceof common.TollgateError) throw usageError(`${prefix}${error.message}`, command);
    throw error;
  }
}

const optionalEntry = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });

/** A JSON value given inline (`{…}`) or as the path of a file holding it. */
async function jsonOption(values: OptionValues, option: string, required: boolean): Promise<unknown> {
  const given = required ? requiredString(values, option, COMMAND) : optionalString(values, option);
  if (given === undefined) return undefined;
  let text = given;
  if (!given.trimStart().startsWith('{')) {
    try {
      text = await readFile(given, 'utf8');
    } catch (error) {
      throw failure(`--${option}: cannot read ${given} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw usageError(`--${option}: not valid JSON`, COMMAND);
  }
}

/** The decision, then one line per rule in evaluation order, its conditions beneath it. */
function describe(decision: Decision, explanation: Explanation): string[] {
  const lines = [
    `${decision.allow ? 'ALLOW' : 'DENY'}  reason: ${decision.reason}  rule: ${decision.rule ?? '(none)'}`,
    `roles considered: ${explanation.roles.join(', ') || '(none: only rules for every role)'}`,
    'rules, in evaluation order (a matching deny wins, else the first matching allow):',
  ];
  for (const rule of explanation.rules) {
    const mark = rule.decisive ? '=>' : '  ';
    lines.push(`${mark} ${rule.rule}  ${rule.effect}  ${rule.outcome.replace('_', ' ')}`);
    if (rule.because) lines.push(`     ${rule.because}`);
    if (rule.conditions) lines.push(...conditionLines(rule.conditions, '     '));
  }
  if (explanation.rules.length === 0) lines.push('   (no rule applies to these roles)');
  if (explanation.not_considered.length > 0)
    lines.push(
      `not considered (roles the subject lacks): ${explanation.not_considered
        .map((rule) => `${rule.rule} (${rule.roles.join(', ')})`)
        .join(', ')}`,
    );
  return lines;
}

const verdict = (holds: boolean | null) =>
  holds === true ? 'yes' : holds === false ? 'NO' : 'indeterminate';

function conditionLines(trace: ConditionTrace, indent: string): string[] {
  if ('of' in trace)
    return [
      `${indent}${trace.operator} → ${verdict(trace.holds)}`,
      ...trace.of.flatMap((part) => conditionLines(part, `${indent}  `)),
    ];
  const from = trace.placeholder ? ` (${trace.placeholder})` : '';
  const actual = trace.absent ? 'absent' : JSON.stringify(trace.actual);
  return [
    `${indent}${trace.attribute} ${trace.operator} ${JSON.stringify(trace.expected)}${from}: resource has ${actual} → ${verdict(trace.holds)}`,
  ];
}

export const decideCommands: readonly Command[] = [explainDecision];
