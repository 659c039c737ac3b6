import type { PolicyRoute, ResourceRef } from '../pdp/index.ts';

export interface RouteMatch {
  route: PolicyRoute;
  /** The check the route stands for, with `:param` references replaced by path segments. */
  action: string;
  resource: ResourceRef;
}

interface Node {
  literals: Map<string, Node>;
  param: { name: string; node: Node } | undefined;
  /** Routes ending here, by method. */
  routes: Map<string, PolicyRoute>;
}

const newNode = (): Node => ({ literals: new Map(), param: undefined, routes: new Map() });

/**
 * The policies' gateway routes as a tree per segment: a literal segment wins over a parameter
 * (`/invoices/new` before `/invoices/:id`), case-sensitive routes over `ignoreCase` ones. Built
 * once per policy version; a lookup walks the path once, without regular expressions.
 */
export class RouteTable {
  readonly #exact = newNode();
  readonly #folded = newNode();

  constructor(routes: readonly PolicyRoute[]) {
    for (const route of routes) {
      let node = route.ignoreCase ? this.#folded : this.#exact;
      const names: string[] = [];
      for (const segment of route.path.split('/').slice(1)) {
        if (segment === '') continue;
        if (segment.startsWith(':')) {
          const name = segment.slice(1);
          names.push(name);
          // Parameter names differ between routes only in what they call the same position.
          node.param ??= { name, node: newNode() };
          node = node.param.node;
        } else {
          const key = route.ignoreCase ? segment.toLowerCase() : segment;
          let next = node.literals.get(key);
          if (!next) {
            next = newNode();
            node.literals.set(key, next);
          }
          node = next;
        }
      }
      node.routes.set(route.method, route);
    }
  }

  /**
   * The route for a normalized path, or undefined (which the adapters answer with default deny).
   * HEAD falls back to the GET route, as HTTP defines HEAD as GET without a body.
   */
  match(method: string, segments: readonly string[]): RouteMatch | undefined {
    const folded = segments.map((segment) => segment.toLowerCase());
    for (const [root, keys] of [
      [this.#exact, segments],
      [this.#folded, folded],
    ] as const) {
      const found = find(root, keys, 0, method);
      if (found) return bind(found, segments);
    }
    return undefined;
  }
}

function find(node: Node, keys: readonly string[], at: number, method: string): PolicyRoute | undefined {
  if (at === keys.length) {
    return node.routes.get(method) ?? (method === 'HEAD' ? node.routes.get('GET') : undefined);
  }
  const literal = node.literals.get(keys[at] as string);
  const viaLiteral = literal && find(literal, keys, at + 1, method);
  if (viaLiteral) return viaLiteral;
  return node.param && find(node.param.node, keys, at + 1, method);
}

/** Reads each `:param` of the route's own pattern off the (original-case) segments. */
function bind(route: PolicyRoute, segments: readonly string[]): RouteMatch {
  const params = new Map<string, string>();
  route.path
    .split('/')
    .slice(1)
    .forEach((segment, i) => {
      if (segment.startsWith(':')) params.set(segment.slice(1), segments[i] as string);
    });
  const value = (ref: string) => (ref.startsWith(':') ? (params.get(ref.slice(1)) ?? '') : ref);
  const resource: ResourceRef = { type: route.resource.type };
  if (route.resource.id !== undefined) resource.id = value(route.resource.id);
  if (route.resource.attrs) {
    const attrs: Record<string, unknown> = {};
    for (const [name, ref] of Object.entries(route.resource.attrs)) setPath(attrs, name, value(ref));
    resource.attrs = attrs;
  }
  return { route, action: route.action, resource };
}

/** `owner.id` → `{ owner: { id } }`, as conditions read nested attributes. */
function setPath(target: Record<string, unknown>, dotted: string, value: string): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next !== null && typeof next === 'object') {
      node = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  node[keys[keys.length - 1] as string] = value;
}
