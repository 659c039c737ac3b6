import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { contractFor, FORWARD_PREFIX, type ForwardAuth, type GatewayKind } from '../gateway/index.ts';
import { type DecideStep, runChain } from './decide-chain.ts';
import type { HttpObserver } from './metrics.ts';
import {
  errorResponse,
  logFailure,
  requestIdFrom,
  SECURITY_HEADERS,
  STRICT_TRANSPORT_SECURITY,
} from './middleware.ts';

/** The decision endpoints answered here, whatever query string they carry. */
const DECIDE_PATHS = new Set(['/decide', '/decide/plan']);

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
}

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
 * router chain and body parser cost several times the decision itself (bench/decide.ts). Same
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
