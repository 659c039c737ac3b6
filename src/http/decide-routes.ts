import Router from '@koa/router';
import type { Context } from 'koa';
import { BUILTIN_API } from '../admin/index.ts';
import type { DecisionEngine } from '../decide/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';
import { type Caller, type CallerRequirement, type CurrentGrants, requireScope } from './admin-auth.ts';
import { parseBody, requireJson } from './body.ts';

export interface DecideRouteDeps {
  verifier: AccessTokenVerifier;
  limitCaller: (clientId: string) => Promise<void>;
  /** Every client's current grants: a caller's `decide` is re-checked on every request (issue 9). */
  grants: CurrentGrants;
  engine: DecisionEngine;
}

/** Who may call /decide: a token with scope `decide` whose client still holds it (issue 9). */
export function decideCaller(grants: CurrentGrants): CallerRequirement {
  return { audience: BUILTIN_API.audience, scope: 'decide', grants };
}

/**
 * `POST /decide` (single or batch) and `POST /decide/plan`, for callers holding a token with
 * scope `decide`, as a recipe of named steps in front of the decision engine. The hot
 * `POST /decide` is normally answered before Koa by the fast path; this route serves the same
 * use case for anything else.
 */
export function decideRoutes(deps: DecideRouteDeps): Router {
  const router = new Router({ prefix: '/decide', sensitive: true });
  const authenticateCaller = requireScope(deps.verifier, decideCaller(deps.grants));
  const parseDecideBody = parseBody(['json'], `${DECIDE_BODY_LIMIT_KB}kb`);

  const callerOf = (ctx: Context) => (ctx.state as unknown as { caller: Caller }).caller.clientId;
  const limitCaller = async (ctx: Context, next: () => Promise<void>) => {
    await deps.limitCaller(callerOf(ctx));
    await next();
  };

  router.post(
    '/',
    authenticateCaller,
    limitCaller,
    requireJson,
    parseDecideBody,
    async function decide(ctx: Context) {
      ctx.body = await deps.engine.check(ctx.request.body, callerOf(ctx));
    },
  );
  router.post(
    '/plan',
    authenticateCaller,
    limitCaller,
    requireJson,
    parseDecideBody,
    async function plan(ctx: Context) {
      ctx.body = await deps.engine.plan(ctx.request.body);
    },
  );
  return router;
}

/** The largest /decide or /decide/plan body, in KiB (100 checks with attributes fit easily). */
export const DECIDE_BODY_LIMIT_KB = 128;
