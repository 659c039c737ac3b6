import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseForm } from 'node:querystring';
import type { Logger } from 'pino';
import { contractFor, FORWARD_PREFIX, type ForwardAuth, type GatewayKind } from '../gateway/index.ts';
import type { FormRequest } from '../oidc/index.ts';
import { type DecideStep, runChain } from './decide-chain.ts';
import type { HttpObserver } from './metrics.ts';
import {
  errorResponse,
  logFailure,
  requestIdFrom,
  SECURITY_HEADERS,
  STRICT_TRANSPORT_SECURITY,
} from './middleware.ts';
import { arrivedBody, LeaveToKoa, readBody, replayRequest } from './request-body.ts';

/** The decision endpoints answered here, whatever query string they carry. */
const DECIDE_PATHS = new Set(['/decide', '/decide/plan']);

/**
 * oidc-provider's form endpoints answered here for their commonest requests, when they can be
 * (FastPathDeps.providerForms); larger forms go to Koa unread: what these read fits many times over.
 */
const PROVIDER_FORM_BODY_LIMIT = 16 * 1024;

/** Each gateway contract's path, as openapi.yaml spells it: Envoy appends the original path. */
const FORWARD_PATHS: Readonly<Record<GatewayKind, string>> = {
  nginx: `${FORWARD_PREFIX}nginx`,
  traefik: `${FORWARD_PREFIX}traefik`,
  envoy: `${FORWARD_PREFIX}envoy/{originalPath}`,
};

/**
 * What the fast path answers before Koa, method (`*`: any, as gateways pass the original one
 * through) and path, so the contract test can hold them to openapi.yaml beside the routers'.
 */
export function fastPathRoutes(): { method: string; path: string }[] {
  return [
    ...[...DECIDE_PATHS].map((path) => ({ method: 'POST', path })),
    ...Object.values(FORWARD_PATHS).map((path) => ({ method: '*', path })),
  ];
}

export interface FastPathDeps {
  /** The /decide and /decide/plan steps, shared with the Koa routes. */
  chains: { check: DecideStep[]; plan: DecideStep[] };
  forward: ForwardAuth;
  /** Counts and times each answer, as `instrument` does for Koa's. */
  observe: HttpObserver;
  logger: Logger;
  accepting: () => boolean;
  /** Whether the request came over HTTPS (see transportSecurity): then the answer carries HSTS. */
  secure: (req: IncomingMessage) => boolean;
  /**
   * By exact path (`/token`, `/token/introspection`): the answer to a form request oidc-provider
   * would otherwise answer, or undefined to leave the request to Koa and oidc-provider
   * (oidc/client-credentials.ts, oidc/jwt-introspection.ts).
   */
  providerForms?: ReadonlyMap<string, ProviderForm>;
  /** The client address, resolved as Koa's clientAddress middleware resolves it. */
  address: (req: IncomingMessage) => string;
  /** Koa, for a request this path read but leaves to it. */
  koa: RequestListener;
}

/** Answers a form request to one of oidc-provider's endpoints, or undefined to leave it to Koa. */
export type ProviderForm = (request: FormRequest) => Promise<object | undefined>;

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** Merged into the access log line. */
  log?: Record<string, unknown>;
}

/**
 * The per-request endpoints gateways and services call, answered straight from node:http
 * before Koa: `POST /decide`, `POST /decide/plan` (the steps of decide-chain.ts, which the Koa
 * routes run too) and forward-auth (`/decide/forward/{nginx,traefik,envoy}`). Koa's context,
 * router chain and body parser cost several times the decision itself (bench/decide.ts). So are
 * the commonest requests to oidc-provider's token and introspection endpoints, a form with a
 * client secret in Basic, when providerForms can answer them (bench/token.ts). Same
 * contract as Koa routes: request id, security headers, JSON only where there is a body, body
 * limit, OAuth-shaped errors. Returns false for any other request.
 */
export function fastPath(deps: FastPathDeps) {
  return function handleFast(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (req.method === 'POST' && DECIDE_PATHS.has(path)) {
      const chain = path === '/decide' ? deps.chains.check : deps.chains.plan;
      respond(req, res, path, () => runChain(chain, req).then(ok));
      return true;
    }
    const providerForm = req.method === 'POST' ? deps.providerForms?.get(url) : undefined;
    if (providerForm && req.headers.origin === undefined && smallForm(req)) {
      respond(req, res, url, async () => {
        const body =
          arrivedBody(req, PROVIDER_FORM_BODY_LIMIT) ??
          (await readBody(req, PROVIDER_FORM_BODY_LIMIT, () => new Error('over the declared length')));
        const request = {
          headers: req.headers,
          form: parseForm(body.toString('utf8')),
          ip: deps.address(req),
        };
        // The full path answers whatever this one does not, a failed lookup included.
        const answer = await providerForm(request).catch(() => undefined);
        if (answer === undefined) throw new LeaveToKoa(body);
        return { status: 200, headers: PROVIDER_FORM_HEADERS, body: answer };
      });
      return true;
    }
    const contract = contractFor(url);
    if (contract === undefined) return false;
    // Gateways send no body; should one come, it is read and dropped, never parsed.
    req.resume();
    respond(req, res, `${FORWARD_PREFIX}${contract.kind}`, () =>
      deps.forward(contract, { method: req.method ?? '', url, headers: req.headers }),
    );
    return true;
  };

  function respond(req: IncomingMessage, res: ServerResponse, path: string, produce: () => Promise<Answer>) {
    const started = performance.now();
    const id = requestIdFrom(firstHeader(req.headers['x-request-id']));
    const headers: Record<string, string> = { ...SECURITY_HEADERS, 'X-Request-Id': id };
    if (deps.secure(req)) headers['Strict-Transport-Security'] = STRICT_TRANSPORT_SECURITY;
    if (!deps.accepting()) headers.Connection = 'close';
    const done = (logged: Record<string, unknown> | undefined) => {
      const elapsed = performance.now() - started;
      deps.observe(path, req.method, res.statusCode, elapsed / 1000);
      if (deps.logger.isLevelEnabled('info')) {
        const ms = Math.round(elapsed * 10) / 10;
        deps.logger.info(
          { reqId: id, method: req.method, path, status: res.statusCode, ms, ...logged },
          'request',
        );
      }
    };
    produce().then(
      (answer) => {
        send(res, answer.status, answer.headers ? { ...headers, ...answer.headers } : headers, answer.body);
        done(answer.log);
      },
      (error: unknown) => {
        if (error instanceof LeaveToKoa) {
          deps.koa(replayRequest(req, error.body), res);
          return;
        }
        const rendered = errorResponse(error);
        if (rendered.status >= 500 || rendered.refused)
          logFailure(deps.logger.child({ reqId: id }), rendered, error);
        if (rendered.challenge) headers['WWW-Authenticate'] = rendered.challenge;
        if (rendered.retryAfter) headers['Retry-After'] = rendered.retryAfter;
        // An unread body would be parsed as the next request on this connection.
        if (!req.complete) headers.Connection = 'close';
        send(res, rendered.status, headers, rendered.body);
        done(undefined);
      },
    );
  }
}

const ok = (body: unknown): Answer => ({ status: 200, body });

/**
 * As oidc-provider answers at its token and introspection endpoints to a request without
 * `Origin` (its no_cache.js and cors.js); one with `Origin` is left to it.
 */
const PROVIDER_FORM_HEADERS = {
  'Cache-Control': 'no-store',
  Vary: 'Origin',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'WWW-Authenticate',
};

/**
 * A form of known, small length in UTF-8, as oidc-provider reads one (selective_body.js):
 * anything else goes to Koa unread, to be answered there.
 */
function smallForm(req: IncomingMessage): boolean {
  const type = req.headers['content-type']?.toLowerCase().replace(/\s+/g, '');
  if (
    type !== 'application/x-www-form-urlencoded' &&
    type !== 'application/x-www-form-urlencoded;charset=utf-8'
  )
    return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(req.headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= PROVIDER_FORM_BODY_LIMIT;
}

/** Sends the answer; `headers` is this request's own object, completed in place. */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  if (body === undefined) {
    headers['Content-Length'] = '0';
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const json = JSON.stringify(body);
  headers['Content-Type'] = 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(json));
  res.writeHead(status, headers);
  res.end(json);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
