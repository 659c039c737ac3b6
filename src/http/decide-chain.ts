import type { IncomingMessage } from 'node:http';
import { BUILTIN_API } from '../admin/index.ts';
import { TollgateError } from '../common/index.ts';
import type { DecisionEngine } from '../decide/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';
import { authenticateBearer, type Caller, type CallerRequirement, type CurrentGrants } from './admin-auth.ts';

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

/** A named step; steps run in order, and the first that throws ends the request with its error. */
export type DecideStep = (exchange: DecideExchange) => Promise<void>;

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
  async function authenticateCaller(exchange: DecideExchange) {
    exchange.caller = await authenticateBearer(
      deps.verifier,
      exchange.req.headers.authorization,
      requirement,
    );
  }
  async function limitCaller(exchange: DecideExchange) {
    await deps.limitCaller(callerOf(exchange).clientId);
  }
  async function check(exchange: DecideExchange) {
    exchange.result = await deps.engine.check(exchange.raw, callerOf(exchange).clientId);
  }
  async function plan(exchange: DecideExchange) {
    exchange.result = await deps.engine.plan(exchange.raw);
  }
  const front = [authenticateCaller, limitCaller, requireJson, readJsonBody];
  return { check: [...front, check], plan: [...front, plan] };
}

/** Runs a chain to its end; resolves with what the last step produced. */
export async function runChain(steps: DecideStep[], req: IncomingMessage): Promise<unknown> {
  const exchange: DecideExchange = { req };
  for (const step of steps) await step(exchange);
  return exchange.result;
}

function callerOf(exchange: DecideExchange): Caller {
  if (!exchange.caller) throw new Error('the decide chain ran a step before authenticateCaller');
  return exchange.caller;
}

async function requireJson(exchange: DecideExchange) {
  const type = exchange.req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new TollgateError('unsupported_media_type', 'the request body must be application/json');
}

async function readJsonBody(exchange: DecideExchange) {
  const { req } = exchange;
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  const tooLarge = () =>
    new TollgateError('request_too_large', `request body exceeds ${DECIDE_BODY_LIMIT_KB}kb`);
  if (declared > BODY_LIMIT_BYTES) throw tooLarge();
  const body = await readBody(req, BODY_LIMIT_BYTES, tooLarge);
  try {
    exchange.raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TollgateError('invalid_request', 'request body is not valid JSON or form data');
  }
}

/**
 * The body, read with stream events: an async iterator over the request (`for await`) cost more
 * than the rest of reading and parsing a small body (bench/decide.ts --profile). Past `limit`
 * it stops reading and fails with `tooLarge()`; the answer then closes the connection (the
 * request is incomplete).
 */
function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => done(undefined);
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error('the request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
