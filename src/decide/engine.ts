import { type AuditSink, type InputHasher, latencyMicros } from '../audit/index.ts';
import { assertSafeJson, parseInput, TollgateError } from '../common/index.ts';
import { parseCertificate, type ResolveOptions, type SubjectResolution } from '../oidc/index.ts';
import type { Check, CompiledPolicySet, Decision, Explanation, Subject } from '../pdp/index.ts';
import { type DecisionLogSettings, decisionLog } from './decision-log.ts';
import { type RouteMatch, RouteTable } from './route-table.ts';
import { bodiesFor, type SubjectInput } from './schema.ts';

/** What the engine reports per decision; the HTTP layer turns it into Prometheus series. */
export interface DecisionMetrics {
  decided(resource: string, caller: string, allow: boolean, seconds: number): void;
}

export interface EngineDeps {
  /** The policy version in force; read once per request, which is answered by that version. */
  policies: () => CompiledPolicySet;
  resolveSubject: (token: string, options?: ResolveOptions) => Promise<SubjectResolution>;
  audit: AuditSink;
  decisionLog: DecisionLogSettings;
  /** Hashes recorded inputs when the decision log records them hashed. */
  inputHasher?: InputHasher | undefined;
  metrics: DecisionMetrics;
}

type Answer = Decision & { detail?: string; explanation?: Explanation };

/** The scopes that let a caller ask /decide for explanations (besides `decide` itself). */
export const EXPLAIN_SCOPES = ['decide:explain', 'admin'] as const;

/**
 * An explanation walks every rule the subject's roles bring in, for every check, and lists the
 * rest: bounded per request so that one call cannot make an answer of the whole policy set
 * times MAX_CHECKS.
 */
export const MAX_EXPLAINED_CHECKS = 10;

/** A gateway's request mapped onto the policies' routes, decided; `route` undefined: no route matched. */
export type RouteOutcome = { route: RouteMatch; decision: Decision } | { route: undefined };

const tables = new WeakMap<CompiledPolicySet, RouteTable>();

/**
 * The decision point, whatever the transport: validation of untrusted JSON, subject resolution,
 * the resource-type check, evaluation, timing, metrics and the decision log all happen here,
 * once, as Cerbos's engine owns them for its gRPC, HTTP and embedded callers alike. The node:http
 * fast path, the Koa routes and forward-auth only adapt requests and answers
 * (docs/architecture.md 3.3 and 3.4). Errors are TollgateErrors naming the offending field.
 */
export function createDecisionEngine(deps: EngineDeps) {
  const log = decisionLog(deps.audit, deps.decisionLog, deps.inputHasher);

  async function resolve(input: SubjectInput): Promise<SubjectResolution> {
    if ('token' in input) {
      // subject.audience: the API the caller protects (issue 9); see createSubjectResolver.
      const { audience } = input;
      return deps.resolveSubject(input.token, {
        audiences: audience === undefined ? undefined : typeof audience === 'string' ? [audience] : audience,
        dpop: input.dpop,
        // One that does not parse is none: a certificate-bound token then fails with `detail: mtls`.
        certificate: input.certificate === undefined ? undefined : parseCertificate(input.certificate),
      });
    }
    // No defensive copy: reserved keys never pass assertSafeJson, and the engine reads own
    // properties only.
    return { ok: true, subject: { id: input.id, roles: input.roles, attrs: input.attrs } };
  }

  /**
   * Decides one check for a resolved subject: timed and counted. Its time goes to `latencies`
   * (µs), for the decision log, which takes a call's decisions at once once all are made.
   */
  function evaluate(
    set: CompiledPolicySet,
    subject: Subject,
    check: Check,
    context: Record<string, unknown> | undefined,
    caller: string,
    latencies: number[],
  ): Decision {
    const started = performance.now();
    const decision = set.decide({ ...check, subject, context });
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.decided(check.resource.type, caller, decision.allow, seconds);
    latencies.push(latencyMicros(seconds));
    return decision;
  }

  function checkOne(
    set: CompiledPolicySet,
    subject: SubjectResolution,
    check: Check,
    context: Record<string, unknown> | undefined,
    caller: string,
    latencies: number[],
  ): Answer {
    if (subject.ok) return evaluate(set, subject.subject, check, context, caller, latencies);
    latencies.push(0);
    return {
      allow: false,
      reason: 'subject_token_invalid',
      detail: subject.detail,
      rule: null,
      policy: { resource: check.resource.type, version: set.version },
    };
  }

  /** Waits while the decision log's writer is behind (AuditSink.backpressure); usually nothing. */
  function relief(): Promise<void> | undefined {
    return deps.decisionLog.enabled ? deps.audit.backpressure?.() : undefined;
  }

  return {
    relief,

    /**
     * `POST /decide`: a single check or a batch; `caller` (client id) is who asked.
     * `mayExplain`: whether the caller holds one of EXPLAIN_SCOPES; a body asking for
     * explanations without it is refused (403) before anything is decided.
     */
    async check(raw: unknown, caller: string, mayExplain = false): Promise<Answer | { results: Answer[] }> {
      const set = deps.policies();
      assertSafeJson(raw);
      const batch = raw !== null && typeof raw === 'object' && 'checks' in raw;
      const schemas = bodiesFor(raw);
      const body = batch ? parseInput(schemas.batch, raw) : parseInput(schemas.single, raw);
      const checks: Check[] = 'checks' in body ? body.checks : [body];
      if (body.explain === true && !mayExplain)
        throw new TollgateError(
          'insufficient_scope',
          `explain: needs a caller token with the ${EXPLAIN_SCOPES.join(' or ')} scope`,
        );
      if (body.explain === true && checks.length > MAX_EXPLAINED_CHECKS)
        throw new TollgateError(
          'invalid_request',
          `explain: at most ${MAX_EXPLAINED_CHECKS} checks a request when explaining`,
        );
      // All or nothing: a batch refused for one check leaves no decision of the others logged.
      for (const [i, check] of checks.entries())
        requirePolicy(set, check.resource.type, batch ? `checks.${i}.` : '');
      const subject = await resolve(body.subject);
      const latencies: number[] = [];
      const answers = checks.map((check) => checkOne(set, subject, check, body.context, caller, latencies));
      // After the decisions, never in their place (pdp/explain.ts); the log keeps decisions only.
      if (body.explain === true) explainAll(set, subject, checks, body.context, answers);
      log(
        {
          caller,
          subject: subject.ok ? subject.subject.id : undefined,
          version: set.version,
          checks,
          answers,
          latencies,
        },
        subject.ok ? { subject: subject.subject, context: body.context } : undefined,
      );
      const waiting = relief();
      if (waiting) await waiting;
      return batch ? { results: answers } : (answers[0] as Answer);
    },

    /** `POST /decide/plan`: the condition under which the subject may act on a resource type. */
    async plan(raw: unknown): Promise<unknown> {
      const set = deps.policies();
      assertSafeJson(raw);
      const body = parseInput(bodiesFor(raw).plan, raw);
      requirePolicy(set, body.resource.type, '');
      const policy = { resource: body.resource.type, version: set.version };
      const subject = await resolve(body.subject);
      if (!subject.ok)
        return { plan: { kind: 'never' }, reason: 'subject_token_invalid', detail: subject.detail, policy };
      return { plan: set.plan(subject.subject, body.action, body.resource.type, body.context), policy };
    },

    /**
     * Forward-auth: the gateway's (normalized) request against the policies' routes, then the
     * route's check for the subject, both under one policy version. No route: default deny,
     * decided by the caller (nothing was evaluated).
     */
    decideRoute(request: {
      method: string;
      segments: readonly string[];
      subject: Subject;
      context: Record<string, unknown>;
      caller: string;
    }): RouteOutcome {
      const set = deps.policies();
      let table = tables.get(set);
      if (!table) {
        table = new RouteTable(set.routes());
        tables.set(set, table);
      }
      const route = table.match(request.method, request.segments);
      if (!route) return { route: undefined };
      const check = { action: route.action, resource: route.resource };
      const latencies: number[] = [];
      const decision = evaluate(set, request.subject, check, request.context, request.caller, latencies);
      log(
        {
          caller: request.caller,
          subject: request.subject.id,
          version: set.version,
          checks: [check],
          answers: [decision],
          latencies,
        },
        { subject: request.subject, context: request.context },
      );
      return { route, decision };
    },
  };
}

export type DecisionEngine = ReturnType<typeof createDecisionEngine>;

function explainAll(
  set: CompiledPolicySet,
  subject: SubjectResolution,
  checks: readonly Check[],
  context: Record<string, unknown> | undefined,
  answers: Answer[],
): void {
  for (const [i, check] of checks.entries()) {
    const answer = answers[i] as Answer;
    answer.explanation = subject.ok
      ? set.explain({ ...check, subject: subject.subject, context })
      : {
          strategy: 'deny-overrides',
          roles: [],
          rules: [],
          not_considered: [],
          because: `the subject token was refused (${subject.detail}): no rule was evaluated`,
        };
  }
}

/** A check names a resource type the policies cover; otherwise the request is wrong (400). */
function requirePolicy(set: CompiledPolicySet, type: string, path: string): void {
  if (!set.hasResource(type))
    throw new TollgateError('invalid_request', `${path}resource.type: no policy for resource type ${type}`);
}
