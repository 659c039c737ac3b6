import type { Decider } from './decider.ts';
import type { CheckResult, ResourceInput, SubjectInput } from './types.ts';

type MaybePromise<T> = T | Promise<T>;

/** How a guarded route finds who is asking and in which context. */
export interface PermissionOptions<Request> {
  /**
   * The subject; default: the request's `Authorization: Bearer` token as a subject token.
   * Returning undefined answers 401.
   */
  subject?: (request: Request) => MaybePromise<SubjectInput | undefined>;
  /** The API(s) this service is, for the default subject: tokens for any other are refused. */
  audience?: string | string[];
  /** The decision's `context` (`${context.X}` in policies), e.g. the client's address. */
  context?: (request: Request) => MaybePromise<Record<string, unknown> | undefined>;
  /** A field, for field-level rules. */
  field?: string;
}

/** What the Koa middleware uses of a Koa context. */
export interface KoaLikeContext {
  get(header: string): string;
  set(header: string, value: string): void;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
}

/** What the Express middleware uses of a request: Node's IncomingMessage is one. */
export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
}

/** What the Express middleware uses of a response: Node's ServerResponse is one. */
export interface ExpressLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

interface Refusal {
  status: 401 | 403 | 503;
  challenge?: string;
  body: { error: string; error_description: string };
}

// RFC 6750 §2.1 (b64token); the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

function bearerSubject(authorization: string | undefined, audience: string | string[] | undefined) {
  const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  if (token === undefined) return undefined;
  return audience === undefined ? { token } : { token, audience };
}

/** The answer to a denied request, or undefined to go on. */
function refusal(subject: SubjectInput | undefined, decision: CheckResult | undefined): Refusal | undefined {
  if (subject === undefined)
    return {
      status: 401,
      challenge: 'Bearer',
      body: { error: 'invalid_token', error_description: 'a Bearer access token is required' },
    };
  if (decision === undefined || decision.allow) return undefined;
  if (decision.reason === 'subject_token_invalid') {
    const detail = decision.detail ?? 'invalid';
    return {
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="${detail}"`,
      body: { error: 'invalid_token', error_description: detail },
    };
  }
  // Not the user's fault, and worth a retry: not a 403.
  if (decision.reason === 'tollgate_unavailable')
    return {
      status: 503,
      body: {
        error: 'temporarily_unavailable',
        error_description: 'authorization is unavailable; retry shortly',
      },
    };
  return { status: 403, body: { error: 'access_denied', error_description: decision.reason } };
}

/** Asks the decider for one request; no subject means no question. */
async function decide<Request>(
  decider: Decider,
  request: Request,
  authorization: string | undefined,
  action: string,
  resource: (request: Request) => MaybePromise<ResourceInput>,
  options: PermissionOptions<Request>,
) {
  const subject = options.subject
    ? await options.subject(request)
    : bearerSubject(authorization, options.audience);
  if (subject === undefined) return { subject, decision: undefined };
  const decision = await decider.check({
    subject,
    action,
    resource: await resource(request),
    ...(options.field === undefined ? {} : { field: options.field }),
    context: options.context ? await options.context(request) : undefined,
  });
  return { subject, decision };
}

/**
 * Koa middleware: `router.get('/invoices/:id', koaPermissions(decider).requirePermission('read',
 * (ctx) => ({ type: 'Invoice', id: ctx.params.id })), handler)`. Allowed: the decision is in
 * `ctx.state.decision` and `next` runs. No subject or an invalid token: 401; denied: 403;
 * Tollgate unavailable (fail-closed): 503. Errors (TollgateRequestError…) are thrown to Koa.
 */
export function koaPermissions(decider: Decider) {
  return {
    requirePermission<Context extends KoaLikeContext>(
      action: string,
      resource: (ctx: Context) => MaybePromise<ResourceInput>,
      options: PermissionOptions<Context> = {},
    ) {
      return async function requirePermission(ctx: Context, next: () => Promise<unknown>): Promise<void> {
        const authorization = ctx.get('authorization') || undefined;
        const { subject, decision } = await decide(decider, ctx, authorization, action, resource, options);
        const refused = refusal(subject, decision);
        if (refused === undefined) {
          ctx.state.decision = decision;
          await next();
          return;
        }
        if (refused.challenge) ctx.set('WWW-Authenticate', refused.challenge);
        ctx.status = refused.status;
        ctx.body = refused.body;
      };
    },
  };
}

/**
 * Express (or plain node:http) middleware: `app.get('/invoices/:id',
 * expressPermissions(decider).requirePermission('read', (req) => ({ type: 'Invoice', id:
 * req.params.id })), handler)`. Answers as the Koa one; errors go to `next(error)`.
 */
export function expressPermissions(decider: Decider) {
  return {
    requirePermission<Request extends ExpressLikeRequest>(
      action: string,
      resource: (req: Request) => MaybePromise<ResourceInput>,
      options: PermissionOptions<Request> = {},
    ) {
      return function requirePermission(
        req: Request,
        res: ExpressLikeResponse,
        next: (error?: unknown) => void,
      ): void {
        const header = req.headers.authorization;
        const authorization = typeof header === 'string' ? header : undefined;
        decide(decider, req, authorization, action, resource, options).then(({ subject, decision }) => {
          const refused = refusal(subject, decision);
          if (refused === undefined) {
            (req as Request & { decision?: CheckResult }).decision = decision;
            return next();
          }
          res.statusCode = refused.status;
          if (refused.challenge) res.setHeader('WWW-Authenticate', refused.challenge);
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(refused.body));
        }, next);
      };
    },
  };
}
