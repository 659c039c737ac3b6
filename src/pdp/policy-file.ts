import { checkConditions, isPlainObject } from './conditions.ts';
import type { CompiledResource, CompiledRule } from './model.ts';
import { type ProblemList, reportSchemaIssues } from './problems.ts';
import { compileRoute } from './routes.ts';
import { policyFileSchema, policyRouteSchema, RESOURCE_TYPE } from './schema.ts';
import type { PolicyRoute } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/** A rule id as written (or defaulted) in a file, for the set-wide duplicate check. */
export interface DeclaredRuleId {
  id: string;
  index: number;
}

export interface PolicyFileResult {
  /** The resource type the file declares, when it declares a valid one. */
  type: string | undefined;
  ids: DeclaredRuleId[];
  /** Present only when the file has no problem at all. */
  resource: CompiledResource | undefined;
  routes: { route: PolicyRoute; index: number }[];
}

/**
 * The default id of the rule at `index` (0-based, like the `rules.<index>` field paths in
 * problems): the README's example answer names the second rule of the Invoice policy "Invoice#1".
 */
export function defaultRuleId(type: string, index: number): string {
  return `${type}#${index}`;
}

/**
 * Validates one policy file — schema, then conditions and routes on the raw YAML values, so a
 * structural problem in one rule does not hide an unknown operator in another — and compiles
 * it when nothing is wrong. `order` is the set-wide position of the file's first rule.
 */
export function compilePolicyFile(
  file: string,
  source: YamlSource,
  order: number,
  problems: ProblemList,
): PolicyFileResult {
  const raw = isPlainObject(source.value) ? source.value : {};
  const type =
    typeof raw.resource === 'string' && RESOURCE_TYPE.test(raw.resource) ? raw.resource : undefined;
  const rawRules = Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  const ids = rawRules.map((rule, index) => ({
    id: isPlainObject(rule) && typeof rule.id === 'string' ? rule.id : defaultRuleId(type ?? 'rules', index),
    index,
  }));
  const ruleOf = (path: readonly (string | number)[]) =>
    path[0] === 'rules' && typeof path[1] === 'number' ? ids[path[1]]?.id : undefined;
  const before = problems.size;
  const report = problems.reporter(file, source, ruleOf);

  const parsed = policyFileSchema.safeParse(source.value, { reportInput: true });
  if (!parsed.success) reportSchemaIssues(parsed.error, report);

  const conditions = rawRules.map((rule, index) =>
    isPlainObject(rule) && isPlainObject(rule.when)
      ? checkConditions(rule.when, (path, message) => report(['rules', index, 'when', ...path], message))
      : undefined,
  );

  const routes: PolicyFileResult['routes'] = [];
  const rawRoutes = Array.isArray(raw.routes) ? (raw.routes as unknown[]) : [];
  rawRoutes.forEach((rawRoute, index) => {
    const route = policyRouteSchema.safeParse(rawRoute);
    if (!route.success || type === undefined) return;
    const compiled = compileRoute(type, route.data, ['routes', index], report);
    if (compiled) routes.push({ route: compiled, index });
  });

  if (!parsed.success || type === undefined || problems.size > before)
    return { type, ids, resource: undefined, routes };

  const rules = parsed.data.rules.map((rule, index): CompiledRule => {
    const checked = conditions[index];
    return {
      id: ids[index]!.id,
      resource: type,
      order: order + index,
      effect: rule.effect,
      roles: [...new Set(rule.roles)],
      actions: [...new Set(rule.actions)],
      ...(rule.fields ? { fields: rule.fields } : {}),
      ...(rule.reason ? { reason: rule.reason } : {}),
      ...(checked ? { when: checked.template } : {}),
      placeholders: checked?.placeholders ?? [],
    };
  });
  const resource = { type, file, rules, routes: routes.map(({ route }) => route) };
  return { type, ids, resource, routes };
}
