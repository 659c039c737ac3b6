import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import { canonicalAddress, TollgateError } from '../common/index.ts';
import { isDatabaseUnavailable, isRefusedValue } from '../db/index.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

const INCOMING_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** A well-formed incoming X-Request-Id, or a new one. */
export function requestIdFrom(incoming: string | undefined): string {
  return incoming !== undefined && INCOMING_ID.test(incoming) ? incoming : randomUUID();
}

/** Request id on every response and log line; a well-formed incoming X-Request-Id is kept. */
export function requestContext(logger: Logger) {
  return async function requestId(ctx: Context, next: Next) {
    const id = requestIdFrom(ctx.get('x-request-id'));
    ctx.state.requestId = id;
    // The per-request child logger is made on first use: most requests never log but the access line.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= logger.child({ reqId: id })) });
    ctx.set('X-Request-Id', id);
    const started = performance.now();
    try {
      await next();
    } finally {
      if (logger.isLevelEnabled('info')) {
        ctx.state.log.info(
          {
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round((performance.now() - started) * 10) / 10,
          },
          'request',
        );
      }
    }
  };
}

/**
 * Renders every error as `{ error, error_description }` (RFC 6749 §5.2). Server faults are
 * logged with their stack and answered with a generic description: no stack reaches a client.
 */
export async function renderErrors(ctx: Context, next: Next) {
  try {
    await next();
  } catch (error) {
    const rendered = errorResponse(error);
    logFailure(ctx.state.log, rendered, error);
    ctx.status = rendered.status;
    if (rendered.challenge) ctx.set('WWW-Authenticate', rendered.challenge);
    if (rendered.retryAfter) ctx.set('Retry-After', rendered.retryAfter);
    ctx.body = rendered.body;
  }
}

/** What an error answered by either stack leaves in the log: faults with their stack, outages and refused values as warnings. */
export function logFailure(log: Logger, rendered: ReturnType<typeof errorResponse>, error: unknown): void {
  if (rendered.status === 500) log.error({ err: error }, 'request failed');
  else if (rendered.status === 503) log.warn('database unavailable');
  else if (rendered.refused) log.warn({ err: error }, 'database refused a value from the request');
}

/** The status, Bearer challenge and OAuth body for any error; one rendering for every path. */
export function errorResponse(error: unknown): {
  status: number;
  challenge?: string;
  retryAfter?: string;
  /** The database refused a value from the request (worth a warning: a schema missed it). */
  refused?: boolean;
  body: { error: string; error_description: string };
} {
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      retryAfter: '5',
      body: {
        error: 'temporarily_unavailable',
        error_description: 'the database is unavailable; retry shortly',
      },
    };
  }
  if (!(error instanceof TollgateError) && isRefusedValue(error)) return REFUSED_VALUE;
  const known = error instanceof TollgateError ? error : undefined;
  if (!known?.expose) {
    return {
      status: known?.status ?? 500,
      body: {
        error: 'server_error',
        error_description: 'an internal error occurred; see the server log for this request id',
      },
    };
  }
  const challenge =
    known.code === 'invalid_token' || known.code === 'insufficient_scope'
      ? `Bearer error="${known.code}", error_description="${known.message.replaceAll('"', "'")}"`
      : undefined;
  const retryAfter = known.retryAfterSeconds === undefined ? undefined : String(known.retryAfterSeconds);
  return {
    status: known.status,
    challenge,
    retryAfter,
    body: { error: known.code, error_description: known.message },
  };
}

/** Issue 9: a value the database cannot hold is the client's error, whatever route let it through. */
const REFUSED_VALUE = {
  status: 400,
  refused: true,
  body: {
    error: 'invalid_request',
    error_description: 'a value in the request cannot be stored or looked up (e.g. it contains NUL)',
  },
} as const;

/**
 * The Content-Security-Policy of every answer. `imageSources`: exact URLs of images the pages
 * load from elsewhere (a configured logo), validated so they cannot end the directive.
 */
export function contentSecurityPolicy(imageSources: readonly string[] = []): string {
  const img = ["'self'", ...imageSources].join(' ');
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src ${img}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Headers every response carries, HTML or not. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': contentSecurityPolicy(),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** RFC 6797 §6.1: browsers that reached us over HTTPS keep doing so for a year (issue 9). */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000; includeSubDomains';

/**
 * Security headers, set before the handlers run: oidc-provider's auto-submitting form_post pages
 * add the SHA-256 of their one inline script to `script-src`, so exactly that script may run
 * and nothing else inline. Our own pages carry no script at all. HSTS goes on answers to
 * requests that `markSecureRequests` found secure.
 */
export function securityHeaders(imageSources: readonly string[] = []) {
  const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy(imageSources) };
  return async function setSecurityHeaders(ctx: Context, next: Next) {
    ctx.set(headers);
    if (ctx.secure) ctx.set('Strict-Transport-Security', STRICT_TRANSPORT_SECURITY);
    await next();
    if (ctx.response.is('html')) ctx.set('Cache-Control', 'no-store');
  };
}

/**
 * Resolves the client address once, for every limit and allow-list: X-Forwarded-For is honoured
 * only when the connection comes from a trusted proxy, hop by hop (proxy-addr, as Express does).
 */
export function clientAddress(trustedProxies: string[]) {
  const addressOf = addressResolver(trustedProxies);
  return async function resolveClientAddress(ctx: Context, next: Next) {
    ctx.request.ip = addressOf(ctx.req);
    await next();
  };
}

/** The client address of a request, as clientAddress resolves it (for the node:http fast path). */
export function addressResolver(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyaddr.compile(trustedProxies);
  return (req) => canonicalAddress(proxyaddr(req, trust));
}

/** How a request reached the browser: decided from the socket, trusted proxies and the issuer. */
export interface TransportSecurity {
  /** The scheme the client used: our own TLS, or `X-Forwarded-Proto: https` from a trusted proxy. */
  scheme(req: IncomingMessage): 'http' | 'https';
  /** Whether cookies must be Secure and answers carry HSTS: an https scheme or an https issuer. */
  secure(req: IncomingMessage): boolean;
}

/**
 * Transport security as Express's `trust proxy` decides it, but trusting X-Forwarded-Proto only
 * from TRUSTED_PROXIES (the same trust as X-Forwarded-For): Koa's `app.proxy` would believe it
 * from anyone. An https ISSUER promises clients reach us only over TLS, so with one every
 * request counts as secure, whatever hop terminates TLS (issue 9).
 */
export function transportSecurity(trustedProxies: string[], issuer: string): TransportSecurity {
  const trust = proxyaddr.compile(trustedProxies);
  const httpsIssuer = new URL(issuer).protocol === 'https:';
  function scheme(req: IncomingMessage): 'http' | 'https' {
    if ((req.socket as TLSSocket).encrypted) return 'https';
    if (!trust(req.socket.remoteAddress ?? '', 0)) return 'http';
    const header = req.headers['x-forwarded-proto'];
    const proto = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim().toLowerCase();
    return proto === 'https' ? 'https' : 'http';
  }
  return { scheme, secure: (req) => httpsIssuer || scheme(req) === 'https' };
}

/**
 * Sets Koa's `ctx.protocol` and `ctx.secure` for this request from `transport`. oidc-provider
 * marks its cookies (`_session`, `_interaction`, `_interaction_resume` and their `.sig`) Secure
 * from `ctx.secure`, and builds its endpoint URLs from `ctx.href`; the app keeps `proxy` off.
 */
export function markSecureRequests(transport: TransportSecurity) {
  return async function markSecure(ctx: Context, next: Next) {
    if (transport.scheme(ctx.req) === 'https')
      Object.defineProperty(ctx.request, 'protocol', { value: 'https' });
    if (transport.secure(ctx.req)) Object.defineProperty(ctx.request, 'secure', { value: true });
    await next();
  };
}
