import type { IncomingMessage } from 'node:http';
import { BUILTIN_API } from '../admin/index.ts';
import { TollgateError } from '../common/index.ts';
import { type DecisionEngine, EXPLAIN_SCOPES } from '../decide/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';
import { authenticateBearer, type Caller, type CallerRequirement, type CurrentGrants } from './admin-auth.ts';
import { arrivedBody, readBody } from './request-body.ts';

/** The largest /decide or /decide/plan body, in KiB (100 checks with attributes fit easily). */
export const DECIDE_BODY_LIMIT_KB = 128;
const BODY_LIMIT_BYTES = DECIDE_BODY_LIMIT_KB * 1024;

/** Who may call /decide: a token with scope `decide` whose client still holds it (issue 9). */
export function decideCaller(grants: CurrentGrants): CallerRequirement {
  return { audience: BUILTIN_API.audience, scope: 'decide', grants };
}

/** One request on its way through the chain, whichever stack (node:http or Koa) carries it. */
export interface DecideExchange {
  req: IncomingMessage;
  caller?: Caller;
  /** The body, parsed but not yet validated (the engine validates). */
  raw?: unknown;
  /** What the engine answered; the stack renders it. */
  result?: unknown;
}

/**
 * A named step; steps run in order, and the first that throws ends the request with its error.
 * A step that needs nothing it must wait for returns nothing, and the next runs at once.
 */
export type DecideStep = (exchange: DecideExchange) => undefined | Promise<void>;

export interface DecideChainDeps {
  verifier: AccessTokenVerifier;
  limitCaller: (clientId: string) => Promise<void>;
  grants: CurrentGrants;
  engine: DecisionEngine;
}

/**
 * `POST /decide` and `POST /decide/plan` as lists of named steps, in the spirit of
 * oidc-provider's `compose([...])` action chains: authenticate the caller, limit it, require
 * JSON, read the body, then let the engine validate and decide. The node:http fast path and the
 * Koa route run these same lists (docs/architecture.md 3.3), so they cannot drift apart.
 */
export function decideChains(deps: DecideChainDeps): { check: DecideStep[]; plan: DecideStep[] } {
  const requirement = decideCaller(deps.grants);
  function authenticateCaller(exchange: DecideExchange) {
    const caller = authenticateBearer(deps.verifier, exchange.req.headers.authorization, requirement);
    if (!(caller instanceof Promise)) {
      exchange.caller = caller;
      return;
    }
    return caller.then((known) => {
      exchange.caller = known;
    });
  }
  function limitCaller(exchange: DecideExchange) {
    return deps.limitCaller(callerOf(exchange).clientId);
  }
  async function check(exchange: DecideExchange) {
    const caller = callerOf(exchange);
    const asks = (exchange.raw as { explain?: unknown } | null)?.explain === true;
    exchange.result = await deps.engine.check(exchange.raw, caller.clientId, asks && mayExplain(caller));
  }
  /** Token scope and current grant both, as for `decide` itself (authenticateBearer). */
  function mayExplain(caller: Caller): boolean {
    return EXPLAIN_SCOPES.some(
      (scope) =>
        caller.scopes.includes(scope) && deps.grants.allows(caller.clientId, BUILTIN_API.audience, scope),
    );
  }
  async function plan(exchange: DecideExchange) {
    exchange.result = await deps.engine.plan(exchange.raw);
  }
  const front = [authenticateCaller, limitCaller, requireJson, readJsonBody];
  return { check: [...front, check], plan: [...front, plan] };
}

/** Runs a chain to its end; resolves with what the last step produced. */
export function runChain(steps: DecideStep[], req: IncomingMessage): Promise<unknown> {
  return runFrom(steps, 0, { req });
}

function runFrom(steps: DecideStep[], first: number, exchange: DecideExchange): Promise<unknown> {
  try {
    for (let i = first; i < steps.length; i++) {
      const waiting = (steps[i] as DecideStep)(exchange);
      if (waiting) return waiting.then(() => runFrom(steps, i + 1, exchange));
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return Promise.resolve(exchange.result);
}

function callerOf(exchange: DecideExchange): Caller {
  if (!exchange.caller) throw new Error('the decide chain ran a step before authenticateCaller');
  return exchange.caller;
}

function requireJson(exchange: DecideExchange): undefined {
  const type = exchange.req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new TollgateError('unsupported_media_type', 'the request body must be application/json');
}

const tooLarge = () =>
  new TollgateError('request_too_large', `request body exceeds ${DECIDE_BODY_LIMIT_KB}kb`);

function readJsonBody(exchange: DecideExchange): undefined | Promise<void> {
  const { req } = exchange;
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > BODY_LIMIT_BYTES) throw tooLarge();
  const body = arrivedBody(req, BODY_LIMIT_BYTES) ?? readBody(req, BODY_LIMIT_BYTES, tooLarge);
  if (!(body instanceof Promise)) {
    exchange.raw = parseJson(body);
    return;
  }
  return body.then((read) => {
    exchange.raw = parseJson(read);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new TollgateError('invalid_request', 'request body is not valid JSON or form data');
  }
}
