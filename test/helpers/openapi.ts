import assert from 'node:assert/strict';
import Router from '@koa/router';

/** A JSON Schema object as openapi.yaml holds it. */
export type Schema = Record<string, unknown>;

/** The document node a local `$ref` (`#/components/…`) points at. */
export function resolve<T>(document: unknown, node: T): T {
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref !== 'string') return node;
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], document);
  assert.ok(target, `${ref} resolves to nothing`);
  return resolve(document, target as T);
}

const typeOf = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'array'
      : Number.isInteger(value)
        ? 'integer'
        : typeof value;

/**
 * Where `value` departs from `schema`: the JSON Schema keywords the document uses for answers
 * (types, const, enum, required, properties, additionalProperties, items, oneOf, allOf). Formats
 * and lengths are left to the lint and the code's own tests; this catches fields renamed, added
 * or dropped on either side.
 */
export function departures(document: unknown, schema: Schema, value: unknown, at = '$'): string[] {
  const s = resolve(document, schema);
  const problems: string[] = [];
  if (Array.isArray(s.oneOf)) {
    const branches = (s.oneOf as Schema[]).map((branch) => departures(document, branch, value, at));
    if (!branches.some((found) => found.length === 0))
      problems.push(`${at}: matches no oneOf branch (${branches.map((found) => found[0]).join('; ')})`);
  }
  if (Array.isArray(s.allOf)) {
    // The document composes objects only: one object with every part's properties.
    const parts = (s.allOf as Schema[]).map((part) => resolve(document, part));
    const merged: Schema = {
      type: 'object',
      properties: Object.assign({}, ...parts.map((part) => part.properties)),
      required: parts.flatMap((part) => (part.required as string[] | undefined) ?? []),
    };
    return [...problems, ...departures(document, merged, value, at)];
  }
  const actual = typeOf(value);
  if (s.type !== undefined) {
    const allowed = ([] as unknown[]).concat(s.type);
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number')))
      return [...problems, `${at}: is ${actual}, documented ${allowed.join(' or ')}`];
  }
  if ('const' in s && value !== s.const)
    problems.push(`${at}: is ${JSON.stringify(value)}, documented ${s.const}`);
  if (Array.isArray(s.enum) && !s.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not in its enum`);
  if (actual === 'array' && s.items)
    (value as unknown[]).forEach((item, i) => {
      problems.push(...departures(document, s.items as Schema, item, `${at}[${i}]`));
    });
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, Schema | undefined>;
    for (const key of (s.required as string[] | undefined) ?? [])
      if (!(key in object)) problems.push(`${at}.${key}: is required but missing`);
    // An answer's object that lists its properties and says nothing of others is held closed:
    // a field the code adds must be documented.
    const others = (s.additionalProperties ?? !s.properties) as Schema | boolean;
    for (const [key, item] of Object.entries(object)) {
      const property = properties[key] ?? others;
      if (property === false) problems.push(`${at}.${key}: is not documented`);
      else if (typeof property === 'object')
        problems.push(...departures(document, property, item, `${at}.${key}`));
    }
  }
  return problems;
}

/** `METHOD /path/{param}`: Koa's and oidc-provider's `:param` in OpenAPI's spelling. */
export const routeKey = (method: string, path: string) =>
  `${method.toUpperCase()} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;

/** oidc-provider's own router (not Koa's): it keeps its route table in private fields. */
interface OidcRouterPrototype {
  [method: string]: (this: unknown, name: string, path: string, ...stack: unknown[]) => unknown;
}

/**
 * Watches routes being mounted while an instance starts: every Koa router whose middleware is
 * handed to the app (`routes()`), and every route oidc-provider registers. oidc-provider keeps
 * its table in private fields, so its router's registration methods are the one place its routes
 * can be seen. Both are only observed: the original methods run unchanged.
 */
export async function watchMountedRoutes() {
  const koaRouters = new Set<Router>();
  const oidcRoutes: { method: string; path: string; name: string }[] = [];
  const restore: (() => void)[] = [];

  const koaPrototype = Router.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['routes', 'middleware']) {
    const original = koaPrototype[method] as (...args: unknown[]) => unknown;
    koaPrototype[method] = function mounted(this: Router, ...args: unknown[]) {
      koaRouters.add(this);
      return original.apply(this, args);
    };
    restore.push(() => {
      koaPrototype[method] = original;
    });
  }

  // A specifier in a variable: the module has no type declarations, and needs none here.
  const specifier = 'oidc-provider/lib/helpers/router.js';
  const oidcRouter = (await import(specifier)) as { default: { prototype: OidcRouterPrototype } };
  const oidcPrototype = oidcRouter.default.prototype;
  for (const method of ['get', 'post', 'put', 'delete', 'options']) {
    const original = oidcPrototype[method];
    assert.ok(original, `oidc-provider's router has no ${method}(): update this test`);
    oidcPrototype[method] = function registered(name, path, ...stack) {
      oidcRoutes.push({ method, path, name });
      return original.call(this, name, path, ...stack);
    };
    restore.push(() => {
      oidcPrototype[method] = original;
    });
  }
  return {
    koaRouters,
    oidcRoutes,
    stop: () => {
      for (const undo of restore) undo();
    },
  };
}
