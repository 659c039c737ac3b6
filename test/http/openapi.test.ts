import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Router from '@koa/router';
import { parseDocument } from 'yaml';
import { fastPathRoutes } from '../../src/http/fast-path.ts';
import { METRICS_SERVER_ROUTE } from '../../src/http/metrics-server.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const DOCUMENT_FILE = new URL('../../src/http/openapi.yaml', import.meta.url);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
}
interface OpenApi {
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
}

/** `METHOD /path/{param}`: Koa's and oidc-provider's `:param` in OpenAPI's spelling. */
const routeKey = (method: string, path: string) =>
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
async function watchMountedRoutes() {
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

describe('the OpenAPI document', () => {
  let tg: TestInstance;
  let document: OpenApi;
  /** Every route the server answers, `METHOD /path`; `* /path` for any method. */
  const mounted = new Set<string>();
  /** oidc-provider's CORS preflight routes (answered, not API operations; see below). */
  const preflights = new Set<string>();
  const sources: Record<'koa' | 'oidc' | 'fast' | 'metrics', Set<string>> = {
    koa: new Set(),
    oidc: new Set(),
    fast: new Set(),
    metrics: new Set(),
  };

  before(async () => {
    const watch = await watchMountedRoutes();
    try {
      // Default configuration: /metrics on the service's port (the Koa route), as METRICS_PORT
      // unset runs it; the metrics port's one route is added from the metrics server below.
      tg = await startTestInstance();
    } finally {
      watch.stop();
    }
    for (const router of watch.koaRouters) {
      for (const layer of router.stack) {
        // HEAD comes with every GET (Koa's router adds it); router.use() layers have no methods.
        const methods = layer.methods.filter((m) => m !== 'HEAD');
        if (methods.length === 0) continue;
        const { path } = layer;
        assert.ok(typeof path === 'string', `a route by regular expression cannot be documented: ${path}`);
        for (const method of methods) sources.koa.add(routeKey(method, path));
      }
    }
    for (const route of watch.oidcRoutes) {
      // CORS preflights for browsers calling the provider across origins: the document says
      // once, in its description, which endpoints answer them, instead of an OPTIONS operation
      // per endpoint that a client generator would turn into methods.
      if (route.method === 'options' && route.name.startsWith('cors.'))
        preflights.add(routeKey('GET', route.path).slice('GET '.length));
      else sources.oidc.add(routeKey(route.method, route.path));
    }
    for (const route of fastPathRoutes()) sources.fast.add(routeKey(route.method, route.path));
    sources.metrics.add(routeKey(METRICS_SERVER_ROUTE.method, METRICS_SERVER_ROUTE.path));
    for (const source of Object.values(sources)) for (const key of source) mounted.add(key);

    const parsed = parseDocument(readFileSync(DOCUMENT_FILE, 'utf8'), { uniqueKeys: true });
    assert.deepEqual(parsed.errors, [], 'openapi.yaml is not valid YAML');
    document = parsed.toJS() as OpenApi;
  });
  after(() => tg?.close());

  /** Every operation of the document, `METHOD /path`. */
  function documented(): Map<string, Operation> {
    const operations = new Map<string, Operation>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of METHODS) {
        const operation = item[method];
        if (operation) operations.set(routeKey(method, path), operation);
      }
    }
    return operations;
  }

  const pathOf = (key: string) => key.slice(key.indexOf(' ') + 1);

  it('saw the routes of every part of the server', () => {
    // Were one source silently empty (a router library changed how it mounts), the comparisons
    // below would hold vacuously; these are routes each source must have.
    assert.ok(sources.koa.has('GET /healthz'), 'the Koa routers were not seen');
    assert.ok(sources.koa.has('GET /admin/clients'), "the admin router's prefixed routes were not seen");
    assert.ok(sources.koa.has('GET /interaction/{uid}'), 'the interaction routes were not seen');
    assert.ok(sources.oidc.has('POST /token'), "oidc-provider's routes were not seen");
    assert.ok(sources.fast.has('POST /decide'), "the fast path's routes were not seen");
    assert.ok(sources.metrics.has('GET /metrics'));
  });

  it("sees oidc-provider's routes where they are served: every endpoint discovery names is mounted", async () => {
    const response = await fetch(`${tg.url}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    const endpoints = Object.entries(metadata).filter(
      ([name, value]) => (name.endsWith('_endpoint') || name === 'jwks_uri') && typeof value === 'string',
    );
    assert.ok(endpoints.length >= 7, `discovery names too few endpoints: ${endpoints.map(([n]) => n)}`);
    for (const [name, url] of endpoints) {
      const { pathname } = new URL(url as string);
      assert.ok(
        [...sources.oidc].some((key) => pathOf(key) === pathname),
        `${name} (${pathname}) is not among oidc-provider's mounted routes`,
      );
    }
  });

  it('documents every route the server mounts', () => {
    const operations = documented();
    const documentedPaths = new Set([...operations.keys()].map(pathOf));
    const missing = [...mounted].filter((key) =>
      key.startsWith('* ') ? !documentedPaths.has(pathOf(key)) : !operations.has(key),
    );
    assert.deepEqual(missing, [], 'mounted but not in src/http/openapi.yaml');
    const undocumentedPreflights = [...preflights].filter((path) => !documentedPaths.has(path));
    assert.deepEqual(undocumentedPreflights, [], 'CORS preflight on a path the document lacks');
  });

  it('mounts every operation the document describes', () => {
    const anyMethod = new Set([...mounted].filter((key) => key.startsWith('* ')).map(pathOf));
    const phantom = [...documented().keys()].filter(
      (key) => !mounted.has(key) && !anyMethod.has(pathOf(key)),
    );
    assert.deepEqual(phantom, [], 'in src/http/openapi.yaml but not mounted');
  });

  it('refuses a request without credentials wherever the document requires them, as documented', async () => {
    let probed = 0;
    for (const [key, operation] of documented()) {
      const security = operation.security ?? document.security;
      // Public, or a credential that may be left out (client_secret_post, METRICS_PORT).
      if (security.length === 0 || security.some((alternative) => Object.keys(alternative).length === 0))
        continue;
      const [method, path] = key.split(' ') as [string, string];
      assert.ok(operation.responses['401'], `${key} requires a credential but documents no 401`);
      const response = await fetch(`${tg.url}${path.replace(/\{[^}]+\}/g, 'x')}`, {
        method,
        headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
        body: method === 'GET' ? undefined : '{}',
      });
      await response.body?.cancel();
      assert.equal(response.status, 401, `${key} without a credential`);
      probed++;
    }
    assert.ok(probed >= 25, `only ${probed} operations require a credential`);
  });

  it('is served at GET /openapi.yaml exactly as shipped', async () => {
    const response = await fetch(`${tg.url}/openapi.yaml`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/yaml/);
    const served = await response.text();
    assert.equal(served, readFileSync(DOCUMENT_FILE, 'utf8'));
    const parsed = parseDocument(served, { uniqueKeys: true });
    assert.deepEqual(parsed.errors, []);
    assert.equal((parsed.toJS() as { openapi: string }).openapi, '3.1.0');
  });
});
