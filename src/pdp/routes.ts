import { attributePathProblem } from './attribute-path.ts';
import type { Report } from './conditions.ts';
import type { PolicyRoute } from './types.ts';

/** Methods a gateway route may name (RFC 9110 §9 plus PATCH, RFC 5789). */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const PARAM_SEGMENT = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

interface RouteInput {
  match: string;
  action: string;
  resource: { id?: string | undefined; attrs?: Record<string, string> | undefined };
  ignoreCase?: boolean | undefined;
}

/**
 * Checks a route of a policy file (`match: "GET /invoices/:id"`) and returns it in the shape
 * the gateway adapters use. Every `:param` the resource refers to must appear in the path, so a
 * route can never hand a rule a value that does not come from the request.
 */
export function compileRoute(
  type: string,
  input: RouteInput,
  path: readonly (string | number)[],
  report: Report,
): PolicyRoute | undefined {
  const problems = [] as [readonly (string | number)[], string][];
  const [method = '', pattern = ''] = input.match.split(' ');
  if (!METHODS.has(method)) problems.push([[...path, 'match'], `unknown method "${method}"`]);
  const params = new Set<string>();
  const segments = pattern === '/' ? [] : pattern.slice(1).split('/');
  for (const segment of segments) {
    const param = PARAM_SEGMENT.exec(segment)?.[1];
    if (param !== undefined) {
      if (params.has(param)) problems.push([[...path, 'match'], `parameter ":${param}" appears twice`]);
      params.add(param);
    } else if (!LITERAL_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      problems.push([[...path, 'match'], `invalid path segment "${segment}" in "${pattern}"`]);
    }
  }
  const checkRef = (value: string, at: readonly (string | number)[]) => {
    if (value.startsWith(':') && !params.has(value.slice(1)))
      problems.push([at, `"${value}" is not a parameter of "${pattern}"`]);
  };
  if (input.resource.id !== undefined) checkRef(input.resource.id, [...path, 'resource', 'id']);
  for (const [name, value] of Object.entries(input.resource.attrs ?? {})) {
    const problem = attributePathProblem(name);
    if (problem) problems.push([[...path, 'resource', 'attrs', name], problem]);
    checkRef(value, [...path, 'resource', 'attrs', name]);
  }
  for (const [at, message] of problems) report(at, message);
  if (problems.length > 0) return undefined;

  const resource: PolicyRoute['resource'] = { type };
  if (input.resource.id !== undefined) resource.id = input.resource.id;
  if (input.resource.attrs !== undefined)
    resource.attrs = Object.fromEntries(Object.entries(input.resource.attrs));
  const route: PolicyRoute = { method, path: pattern, action: input.action, resource };
  if (input.ignoreCase) route.ignoreCase = true;
  return route;
}
