import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { fastPathRoutes } from '../../src/http/fast-path.ts';
import { METRICS_SERVER_ROUTE } from '../../src/http/metrics-server.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { departures, resolve, routeKey, type Schema, watchMountedRoutes } from '../helpers/openapi.ts';
import { policyFiles } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';

const DOCUMENT_FILE = new URL('../../src/http/openapi.yaml', import.meta.url);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Answer {
  $ref?: string;
  content?: Record<string, { schema?: Schema }>;
}
interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, Answer>;
}
interface OpenApi {
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
}

describe('the OpenAPI document', () => {
  let tg: TestInstance;
  let document: OpenApi;
  /** Every route the server answers, `METHOD /path`; `* /path` for any method. */
  const mounted = new Set<string>();
  /** Paths of oidc-provider's CORS preflight routes (answered, not API operations; see below). */
  const preflights = new Set<string>();
  const sources: Record<'koa' | 'oidc' | 'fast' | 'metrics', Set<string>> = {
    koa: new Set(),
    oidc: new Set(),
    fast: new Set(),
    metrics: new Set(),
  };

  const pathOf = (key: string) => key.slice(key.indexOf(' ') + 1);

  before(async () => {
    const watch = await watchMountedRoutes();
    try {
      // Default configuration: /metrics on the service's port (the Koa route), as METRICS_PORT
      // unset runs it; the metrics port's one route is added from the metrics server below.
      // Inputs recorded, so that the policy preview has something to replay.
      tg = await startTestInstance({ DECISION_LOG_INPUTS: 'full' });
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
        preflights.add(pathOf(routeKey(route.method, route.path)));
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

  /**
   * Holds a real answer to its operation: the status is `status` and documented, the media type
   * documented, and a JSON body matches the documented schema. Returns the body.
   */
  async function expectDocumented(key: string, response: Response, status: number) {
    const operation = documented().get(key);
    assert.ok(operation, `${key} is not documented`);
    const text = await response.text();
    assert.equal(response.status, status, `${key}: ${text}`);
    const answer = operation.responses[String(status)];
    assert.ok(answer, `${key} answered ${status}, which it does not document`);
    const content = resolve(document, answer).content;
    if (!content) return text;
    const type = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
    const media = content[type];
    assert.ok(media, `${key} → ${status} answered ${type}, documented ${Object.keys(content)}`);
    if (!/^application\/(.+\+)?json$/.test(type) || !media.schema) return text;
    const body = JSON.parse(text) as unknown;
    assert.deepEqual(departures(document, media.schema, body), [], `${key} → ${status}: ${text}`);
    return body;
  }

  it('answers in the shapes it documents', async () => {
    /** `key` is the documented operation; its `{…}` are filled from `values`. */
    const admin = async (
      key: string,
      status: number,
      request: { values?: Record<string, string>; body?: unknown; query?: string } = {},
    ) => {
      const [method = '', template = ''] = key.split(' ');
      const path = template
        .slice('/admin'.length)
        .replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(request.values?.[name] ?? ''));
      const response = await tg.admin$(method, `${path}${request.query ?? ''}`, request.body);
      return expectDocumented(key, response, status);
    };
    const anyone = async (path: string, status = 200) =>
      expectDocumented(`GET ${path}`, await fetch(`${tg.url}${path}`), status);
    for (const path of ['/healthz', '/readyz', '/.well-known/openid-configuration', '/jwks', '/openapi.yaml'])
      await anyone(path);
    for (const path of ['/assets/tollgate.css', '/session/end/success']) await anyone(path);
    await expectDocumented('GET /interaction/{uid}', await fetch(`${tg.url}/interaction/unknown`), 400);

    const api = 'https://invoices.example.test';
    await admin('POST /admin/apis', 201, { body: { audience: api, scopes: ['read', 'write'] } });
    await admin('POST /admin/apis', 409, { body: { audience: api, scopes: ['read'] } });
    const body = {
      username: 'ada',
      password: 'correct horse',
      roles: ['accountant'],
      attrs: { tenant: 'acme' },
    };
    const user = (await admin('POST /admin/users', 201, { body })) as { id: string };
    await admin('POST /admin/users', 400, { body: { username: 'bob', password: 'short' } });
    await admin('POST /admin/users/{id}/disable', 200, { values: user });
    await admin('POST /admin/users/{id}/enable', 200, { values: user });
    const client = (await admin('POST /admin/clients', 201, {
      body: { name: 'svc', grant_types: ['client_credentials'], api, scope: 'read' },
    })) as { client_id: string; client_secret: string };
    const ofClient = { id: client.client_id };
    await admin('PUT /admin/clients/{id}/grants', 200, {
      values: ofClient,
      body: { api, scopes: ['read', 'write'], introspect: true },
    });
    await admin('POST /admin/gateways', 201, { body: { name: 'edge', apis: [api] } });
    await admin('PUT /admin/gateways/{name}/apis', 200, { values: { name: 'edge' }, body: { apis: [api] } });
    await admin('POST /admin/policies', 201, { body: { files: policyFiles() } });
    const broken = { files: [{ name: 'broken.yaml', content: 'resource: [' }] };
    await admin('POST /admin/policies', 400, { body: broken });
    for (const path of ['clients', 'users', 'apis', 'keys', 'gateways', 'policies', 'audit/verify'])
      await admin(`GET /admin/${path}`, 200);
    await admin('GET /admin/audit', 200, { query: '?limit=5' });
    await admin('GET /admin/audit/export', 200, { query: '?type=admin.change' });
    const checkpoint = {
      seq: 1,
      hash: '0'.repeat(64),
      at: new Date().toISOString(),
      kid: 'k',
      mac: '0'.repeat(64),
    };
    await admin('POST /admin/audit/checkpoints', 200, { body: { checkpoints: [checkpoint] } });

    const issued = await requestToken(tg.url, client, { scope: 'read', resource: api });
    const { access_token } = (await expectDocumented('POST /token', issued, 200)) as { access_token: string };
    const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
    const introspection = await fetch(`${tg.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: access_token }),
    });
    await expectDocumented('POST /token/introspection', introspection, 200);
    const scraper = await requestToken(tg.url, tg.admin, { scope: 'metrics' });
    const { access_token: metricsToken } = (await scraper.json()) as { access_token: string };
    const metrics = await fetch(`${tg.url}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    await expectDocumented('GET /metrics', metrics, 200);

    // The admin client holds `decide` and `decide:explain` too.
    const decideToken = await requestToken(tg.url, tg.admin, { scope: 'decide decide:explain' });
    const { access_token: caller } = (await decideToken.json()) as { access_token: string };
    const decide = async (path: string, status: number, request: unknown) => {
      const response = await fetch(`${tg.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
        body: JSON.stringify(request),
      });
      return expectDocumented(`POST ${path}`, response, status);
    };
    const subject = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };
    const forged = { token: 'not-a-token' };
    const invoice = { type: 'Invoice', id: 'inv_1', attrs: { tenant: 'acme', status: 'open' } };
    await decide('/decide', 200, { subject, action: 'read', resource: invoice });
    await decide('/decide', 200, { subject: forged, action: 'read', resource: invoice });
    const checks = [
      { action: 'read', resource: invoice },
      { action: 'delete', resource: invoice },
    ];
    await decide('/decide', 200, { subject, checks });
    await decide('/decide', 200, { subject, action: 'read', resource: invoice, explain: true });
    await decide('/decide', 200, {
      subject,
      action: 'read',
      field: 'amount',
      resource: invoice,
      explain: true,
    });
    await decide('/decide', 200, { subject: forged, action: 'read', resource: invoice, explain: true });
    await decide('/decide', 200, { subject, checks, explain: true });
    await decide('/decide', 400, { subject, action: 'read' });
    await decide('/decide/plan', 200, { subject, action: 'read', resource: { type: 'Invoice' } });
    await decide('/decide/plan', 200, { subject: forged, action: 'read', resource: { type: 'Invoice' } });
    // Accountants no longer read: the decisions above flip, with examples (once the log holds them).
    const narrowed = [
      { ...policyFiles()[0]!, content: policyFiles()[0]!.content.replace('[read, update]', '[update]') },
    ];
    let preview: { flipped?: number } = {};
    for (let i = 0; i < 100 && !preview.flipped; i++) {
      if (i > 0) await new Promise((done) => setTimeout(done, 50));
      preview = (await admin('POST /admin/policies/preview', 200, {
        body: { files: narrowed, limit: 50 },
      })) as typeof preview;
    }
    assert.ok(preview.flipped, 'the preview shows flips');
    await admin('POST /admin/policies/preview', 400, { body: broken });
    await admin('POST /admin/policies/preview', 400, { body: { files: narrowed, limit: 0 } });

    await admin('DELETE /admin/clients/{id}/grants', 204, { values: ofClient, query: `?api=${api}` });
    await admin('DELETE /admin/gateways/{name}', 204, { values: { name: 'edge' } });
    await admin('DELETE /admin/users/{id}', 204, { values: user });
    await admin('DELETE /admin/users/{id}', 404, { values: user });
    await admin('DELETE /admin/clients/{id}', 204, { values: ofClient });
    await admin('POST /admin/keys/rotate', 201);
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
