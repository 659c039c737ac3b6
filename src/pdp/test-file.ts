import { isPlainObject } from './conditions.ts';
import { type ProblemList, reportSchemaIssues } from './problems.ts';
import { policyTestCaseSchema, policyTestFileSchema } from './schema.ts';
import type { DecisionRequest, PolicyTestCase } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/** `*.test.yaml` (or `.test.yml`) files hold policy test cases; every other YAML file a policy. */
export function isPolicyTestFile(name: string): boolean {
  return /\.test\.ya?ml$/.test(name);
}

/** Whether a file belongs to a policy set at all (policies and their tests). */
export function isPolicySetFile(name: string): boolean {
  return /\.ya?ml$/.test(name);
}

/**
 * Validates a test file and turns its cases into decision requests. Attribute objects are
 * taken from the YAML as written rather than from the schema library's output, which would
 * silently drop keys such as `__proto__` — cases that probe exactly those keys must keep them.
 */
export function compileTestFile(
  file: string,
  source: YamlSource,
  knownTypes: ReadonlySet<string>,
  problems: ProblemList,
): PolicyTestCase[] {
  const report = problems.reporter(file, source, () => undefined);
  const parsed = policyTestFileSchema.safeParse(source.value, { reportInput: true });
  if (!parsed.success) reportSchemaIssues(parsed.error, report);
  // Cases are taken one by one, so a malformed case does not hide the problems of the others.
  const value = source.value as { cases?: unknown };
  const rawCases: unknown[] = isPlainObject(value) && Array.isArray(value.cases) ? value.cases : [];
  const names = new Set<string>();
  const cases: PolicyTestCase[] = [];
  rawCases.forEach((raw, index) => {
    const one = policyTestCaseSchema.safeParse(raw);
    if (!one.success) return;
    const input = one.data;
    if (names.has(input.name)) report(['cases', index, 'name'], `duplicate case name "${input.name}"`);
    names.add(input.name);
    if (!knownTypes.has(input.resource.type))
      report(['cases', index, 'resource', 'type'], `unknown resource type "${input.resource.type}"`);
    const request: DecisionRequest = {
      subject: {
        id: input.subject.id,
        roles: input.subject.roles,
        attrs: rawObject(rawObject(raw, 'subject'), 'attrs') ?? {},
      },
      action: input.action,
      resource: { type: input.resource.type },
    };
    if (input.resource.id !== undefined) request.resource.id = input.resource.id;
    const resourceAttrs = rawObject(rawObject(raw, 'resource'), 'attrs');
    if (resourceAttrs) request.resource.attrs = resourceAttrs;
    const context = rawObject(raw, 'context');
    if (context) request.context = context;
    if (input.field !== undefined) request.field = input.field;
    const testCase: PolicyTestCase = { file, name: input.name, request, expect: input.expect };
    if (input.reason !== undefined) testCase.reason = input.reason;
    cases.push(testCase);
  });
  return cases;
}

function rawObject(parent: unknown, key: string): Record<string, unknown> | undefined {
  if (!isPlainObject(parent)) return undefined;
  const value = Object.hasOwn(parent, key) ? parent[key] : undefined;
  return isPlainObject(value) ? value : undefined;
}
