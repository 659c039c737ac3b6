import Router from '@koa/router';
import type { Context } from 'koa';
import { BUILTIN_API } from '../admin/index.ts';
import type { AuditSink } from '../audit/index.ts';
import { TollgateError } from '../common/index.ts';
import type { AccessTokenVerifier, ResolveOptions, SubjectResolution } from '../oidc/index.ts';
import type { Check, CompiledPolicySet, Decision, Subject as PdpSubject } from '../pdp/index.ts';
import { type Caller, type CallerRequirement, type CurrentGrants, requireScope } from './admin-auth.ts';
import { parseBody, requireJson } from './body.ts';
import { batchDecideBody, planBody, type SubjectInput, singleDecideBody } from './decide-schema.ts';
import { assertSafeJson } from './json-shape.ts';
import type { Metrics } from './metrics.ts';
import { parseInput } from './validate.ts';

export interface DecideDeps {
  limitCaller: (clientId: string) => Promise<void>;
  audit: AuditSink;
  /** Decision log: off entirely, or allows kept with probability `allowSample` (denials always). */
  decisionLog: { enabled: boolean; allowSample: number };
  verifier: AccessTokenVerifier;
  policies: () => CompiledPolicySet;
  resolveSubject: (token: string, options?: ResolveOptions) => Promise<SubjectResolution>;
  metrics: Metrics;
  /** Every client's current grants: a caller's `decide` is re-checked on every request (issue 9). */
  grants: CurrentGrants;
}

type Subject = SubjectResolution;

/**
 * The decision use cases on untrusted JSON: validate, resolve the subject, decide. Shared by the
 * Koa routes and the node:http fast path (fast-path.ts); errors are TollgateErrors.
 */
export function createDecider(deps: DecideDeps) {
  async function resolve(input: SubjectInput): Promise<Subject> {
    if ('token' in input) {
      // subject.audience: the API the caller protects (issue 9); see createSubjectResolver.
      const { audience } = input;
      return deps.resolveSubject(input.token, {
        audiences: audience === undefined ? undefined : typeof audience === 'string' ? [audience] : audience,
      });
    }
    // No defensive copy: reserved keys never pass assertSafeJson, and the engine reads own
    // properties only.
    return { ok: true, subject: { id: input.id, roles: input.roles, attrs: input.attrs } };
  }

  function decideOne(
    set: CompiledPolicySet,
    subject: Subject,
    check: Check,
    context: Record<string, unknown> | undefined,
    path: string,
    caller: string,
  ) {
    if (!set.hasResource(check.resource.type)) {
      throw new TollgateError(
        'invalid_request',
        `${path}resource.type: no policy for resource type ${check.resource.type}`,
      );
    }
    const policy = { resource: check.resource.type, version: set.version };
    if (!subject.ok) {
      const decision = {
        allow: false,
        reason: 'subject_token_invalid',
        detail: subject.detail,
        rule: null,
        policy,
      };
      logDecision(caller, undefined, check, decision, 0);
      return decision;
    }
    return decideTimed(set, subject.subject, check, context, caller);
  }

  function logDecision(
    caller: string,
    subject: string | undefined,
    check: Check,
    decision: Decision & { detail?: string },
    seconds: number,
  ): void {
    const log = deps.decisionLog;
    if (!log.enabled || (decision.allow && log.allowSample < 1 && Math.random() >= log.allowSample)) return;
    deps.audit.record({
      type: 'decision',
      actor: caller,
      subject,
      data: {
        action: check.action,
        resource: { type: check.resource.type, id: check.resource.id },
        allow: decision.allow,
        reason: decision.reason,
        ...(decision.detail ? { detail: decision.detail } : {}),
        rule: decision.rule,
        version: decision.policy.version,
        latency_us: Math.round(seconds * 1e7) / 10,
      },
    });
  }

  /** One decision, timed and counted (tollgate_decision_duration_seconds, tollgate_decisions_total). */
  function decideTimed(
    set: CompiledPolicySet,
    subject: PdpSubject,
    check: Check,
    context: Record<string, unknown> | undefined,
    caller: string,
  ): Decision {
    const started = performance.now();
    const decision = set.decide({ ...check, subject, context });
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.decisionSeconds.observe({ resource: check.resource.type }, seconds);
    deps.metrics.decisions.inc({
      result: decision.allow ? 'allow' : 'deny',
      resource: check.resource.type,
      caller,
    });
    logDecision(caller, subject.id, check, decision, seconds);
    return decision;
  }

  return {
    decideTimed,

    /** `caller`: who asked (client id), for the decision log. */
    async decide(raw: unknown, caller: string): Promise<unknown> {
      // Read once: the whole request is answered by the version in force when it started.
      const set = deps.policies();
      assertSafeJson(raw);
      if (raw !== null && typeof raw === 'object' && 'checks' in raw) {
        const body = parseInput(batchDecideBody, raw);
        const subject = await resolve(body.subject);
        return {
          results: body.checks.map((check, i) =>
            decideOne(set, subject, check, body.context, `checks.${i}.`, caller),
          ),
        };
      }
      const body = parseInput(singleDecideBody, raw);
      return decideOne(set, await resolve(body.subject), body, body.context, '', caller);
    },

    async plan(raw: unknown): Promise<unknown> {
      const set = deps.policies();
      assertSafeJson(raw);
      const body = parseInput(planBody, raw);
      if (!set.hasResource(body.resource.type)) {
        throw new TollgateError(
          'invalid_request',
          `resource.type: no policy for resource type ${body.resource.type}`,
        );
      }
      const policy = { resource: body.resource.type, version: set.version };
      const subject = await resolve(body.subject);
      if (!subject.ok)
        return { plan: { kind: 'never' }, reason: 'subject_token_invalid', detail: subject.detail, policy };
      return { plan: set.plan(subject.subject, body.action, body.resource.type, body.context), policy };
    },
  };
}

export type Decider = ReturnType<typeof createDecider>;

/** Who may call /decide: a token with scope `decide` whose client still holds it (issue 9). */
export function decideCaller(grants: CurrentGrants): CallerRequirement {
  return { audience: BUILTIN_API.audience, scope: 'decide', grants };
}

/**
 * `POST /decide` (single or batch) and `POST /decide/plan`, for callers holding a token with
 * scope `decide`, as a recipe of named steps. The hot `POST /decide` is normally answered
 * before Koa by the fast path; this route serves the same use case for anything else.
 */
export function decideRoutes(deps: DecideDeps, decider: Decider): Router {
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
      ctx.body = await decider.decide(ctx.request.body, callerOf(ctx));
    },
  );
  router.post(
    '/plan',
    authenticateCaller,
    limitCaller,
    requireJson,
    parseDecideBody,
    async function plan(ctx: Context) {
      ctx.body = await decider.plan(ctx.request.body);
    },
  );
  return router;
}

/** The largest /decide or /decide/plan body, in KiB (100 checks with attributes fit easily). */
export const DECIDE_BODY_LIMIT_KB = 128;
