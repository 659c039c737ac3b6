import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { BUILTIN_API } from '../admin/index.ts';
import { TollgateError } from '../common/index.ts';
import { createForwardAuth, type ForwardDeps } from '../gateway/index.ts';
import { cookieKeys, type InteractionDeps, interactionRoutes, type OidcService } from '../oidc/index.ts';
import { requireScope } from './admin-auth.ts';
import { type AdminRouteDeps, adminRoutes } from './admin-routes.ts';
import { parseBody } from './body.ts';
import { PROVIDER_ENDPOINTS, refuseOtherSpellings } from './canonical-paths.ts';
import { type DecideChainDeps, decideChains } from './decide-chain.ts';
import { decideRoutes } from './decide-routes.ts';
import { fastPath } from './fast-path.ts';
import { refuseUnstorableQuery } from './json-shape.ts';
import { httpObserver, instrument, type Metrics } from './metrics.ts';
import {
  addressResolver,
  clientAddress,
  markSecureRequests,
  renderErrors,
  requestContext,
  securityHeaders,
  transportSecurity,
} from './middleware.ts';

/** What the app itself uses, beside what its routers ask for. */
export interface AppOwnDeps {
  logger: Logger;
  /** The current oidc-provider (rebuilt on key changes) and the middleware that hands requests to it. */
  oidc: Pick<OidcService, 'provider' | 'middleware' | 'introspectJwt' | 'issueClientCredentials'>;
  metrics: Metrics;
  /** Serve /metrics here (scope `metrics`); false when METRICS_PORT serves it. */
  metricsOnMainPort: boolean;
  cookieSecret: Buffer;
  trustedProxies: string[];
  /** The issuer URL: an https one makes every cookie Secure and every answer carry HSTS. */
  issuer: string;
  /** False while shutting down, so load balancers stop sending traffic. */
  accepting: () => boolean;
}

/**
 * Everything the HTTP surface asks for: its own needs and those of each router it mounts. The
 * composition root hands in one object holding them all; each router reads only its own part.
 */
export type AppDeps = AppOwnDeps & AdminRouteDeps & DecideChainDeps & ForwardDeps & InteractionDeps;

/** The decision API's contract, served as shipped. */
const OPENAPI = readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8');

/** oidc-provider's endpoints as a request line spells them exactly: no query, no other spelling. */
const EXACT_PROVIDER_URLS = new Set(PROVIDER_ENDPOINTS);

/** Whatever neither we nor oidc-provider route ends here, in the same error shape. */
function notFound(): never {
  throw new TollgateError('not_found', 'no such endpoint; see /.well-known/openid-configuration');
}

/**
 * The HTTP surface: our own routes first, then everything else to oidc-provider. A request for
 * one of oidc-provider's endpoints spelled exactly, without a query (a token request, JWKS,
 * discovery), takes a second Koa app with the same outer middleware and oidc-provider but
 * without our routers and the two checks that cannot refuse it (other spellings, unstorable
 * query values): none of them applies to such a request, and they cost a token request about
 * as much as the rest of the outer app (bench/token.ts, issue 14).
 */
export function buildApp(deps: AppDeps): { koa: Koa; listener: RequestListener } {
  const transport = transportSecurity(deps.trustedProxies, deps.issuer);
  const outer: Koa.Middleware[] = [
    clientAddress(deps.trustedProxies),
    markSecureRequests(transport),
    requestContext(deps.logger),
    async (ctx, next) => {
      // While shutting down, tell keep-alive clients to reconnect elsewhere.
      if (!deps.accepting()) ctx.set('Connection', 'close');
      await next();
    },
    securityHeaders(deps.pages.imageSources),
    renderErrors,
  ];
  const app = new Koa();
  app.keys = cookieKeys(deps.cookieSecret);
  for (const middleware of outer) app.use(middleware);
  app.use(refuseOtherSpellings);

  // Case-sensitive like every route table of ours (issue 9): a route that matched `/Admin/x`
  // while its router-level authentication did not would serve it unauthenticated.
  const ops = new Router({ sensitive: true });
  ops.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  ops.get('/readyz', async (ctx) => {
    const database = await Promise.race([
      deps.db.ping().then(() => 'ok' as const),
      new Promise<'unreachable'>((resolve) => setTimeout(resolve, 2000, 'unreachable').unref()),
    ]).catch(() => 'unreachable' as const);
    const ready = database === 'ok' && deps.accepting();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', database, accepting: deps.accepting() };
  });
  ops.get('/assets/tollgate.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = deps.pages.stylesheet;
  });

  const interactions = interactionRoutes(deps, parseBody(['form'], '16kb'));
  const admin = adminRoutes(deps);
  const chains = decideChains(deps);
  const decide = decideRoutes(chains);
  ops.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.body = OPENAPI;
  });
  if (deps.metricsOnMainPort) {
    const scraper = { audience: BUILTIN_API.audience, scope: 'metrics', grants: deps.grants };
    ops.get('/metrics', requireScope(deps.verifier, scraper), async (ctx) => {
      ctx.type = deps.metrics.registry.contentType;
      ctx.body = await deps.metrics.registry.metrics();
    });
  }

  const allowedMethods = {
    throw: true,
    methodNotAllowed: () =>
      new TollgateError('method_not_allowed', 'this method is not allowed on this path'),
    notImplemented: () => new TollgateError('method_not_allowed', 'this method is not implemented'),
  };
  for (const router of [ops, interactions, admin, decide])
    app.use(router.routes()).use(router.allowedMethods(allowedMethods));
  app.use(refuseUnstorableQuery);
  app.use(deps.oidc.middleware());
  app.use(notFound);

  const provider = new Koa();
  provider.keys = app.keys;
  for (const middleware of outer) provider.use(middleware);
  provider.use(deps.oidc.middleware());
  provider.use(notFound);

  const observe = httpObserver(deps.metrics);
  const full = instrument(observe, app.callback());
  const exact = instrument(observe, provider.callback());
  const koaListener: RequestListener = (req, res) =>
    (EXACT_PROVIDER_URLS.has(req.url ?? '') ? exact : full)(req, res);
  const fast = fastPath({
    chains,
    observe,
    forward: createForwardAuth(deps),
    logger: deps.logger,
    accepting: deps.accepting,
    secure: transport.secure,
    providerForms: new Map([
      ['/token', deps.oidc.issueClientCredentials],
      ['/token/introspection', deps.oidc.introspectJwt],
    ]),
    address: addressResolver(deps.trustedProxies),
    koa: koaListener,
  });
  return {
    koa: app,
    listener: (req, res) => {
      if (!fast(req, res)) koaListener(req, res);
    },
  };
}
