import { z } from 'zod';
import { type Batch, CheckBatcher, fail, settle } from './batcher.ts';
import { CallerToken, parseAnswer } from './caller-token.ts';
import { DecisionCache, stableKey } from './decision-cache.ts';
import { TollgateRequestError, TollgateUnavailableError } from './errors.ts';
import { type DeciderOptions, parseDeciderOptions } from './options.ts';
import { exchange, type FetchLike, type Transport } from './transport.ts';
import type {
  BatchRequest,
  CheckInput,
  CheckResult,
  Decision,
  DecisionRequest,
  PlanAnswer,
  PlanRequest,
  SubjectInput,
  UnavailableDecision,
} from './types.ts';

// Loose objects: fields a newer Tollgate adds reach the caller.
const policyRef = z.object({ resource: z.string(), version: z.number() });
const decision = z.looseObject({
  allow: z.boolean(),
  reason: z.string(),
  detail: z.string().optional(),
  rule: z.string().nullable(),
  policy: policyRef,
});
const batchAnswer = z.object({ results: z.array(decision) });
const planAnswer = z.looseObject({
  plan: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('always') }),
    z.object({ kind: z.literal('never') }),
    z.object({ kind: z.literal('conditional'), condition: z.record(z.string(), z.unknown()) }),
  ]),
  policy: policyRef,
  reason: z.string().optional(),
  detail: z.string().optional(),
});

/** Asks Tollgate's decision point on behalf of a service. */
export interface Decider {
  /** May the subject do this? Concurrent checks are sent together (see createDecider). */
  check(request: DecisionRequest): Promise<CheckResult>;
  /** Several checks of one subject, answered in order (any number; sent 100 a request). */
  checkMany(request: BatchRequest): Promise<CheckResult[]>;
  /** Which resources of a type the subject may access (`POST /decide/plan`), for planToKysely. */
  plan(request: PlanRequest): Promise<PlanAnswer>;
}

/**
 * A client for `POST /decide` with its own caller token (client credentials, scope `decide`,
 * renewed before it expires). Single checks made in the same turn of the event loop go out as
 * one batch per subject and context. Tollgate's refusals (4xx) are thrown as
 * TollgateRequestError; when Tollgate cannot answer, checks are denied with reason
 * `tollgate_unavailable` (or TollgateUnavailableError is thrown, with `onUnavailable: 'throw'`).
 *
 * @throws TypeError for invalid options, naming each.
 */
export function createDecider(options: DeciderOptions): Decider {
  const settings = parseDeciderOptions(options);
  const now = settings.now ?? Date.now;
  const transport: Transport = {
    fetch: settings.fetch ?? (globalThis.fetch as unknown as FetchLike),
    timeoutMs: settings.timeoutMs,
  };
  const callerToken = new CallerToken(
    {
      issuer: settings.issuer,
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      scope: 'decide',
      renewBeforeMs: settings.renewBeforeMs,
      now,
    },
    transport,
  );
  const base = (settings.url ?? settings.issuer).replace(/\/$/, '');
  const cache = settings.cache && new DecisionCache({ ...settings.cache, now });
  const failClosed = settings.onUnavailable === 'deny';

  /** A POST with the caller token; one retry with a new token if Tollgate refuses the old one. */
  async function post(path: string, body: unknown): Promise<unknown> {
    const json = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const token = await callerToken.get();
      try {
        return await exchange(transport, `${base}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: json,
        });
      } catch (error) {
        if (attempt > 0 || !(error instanceof TollgateRequestError) || error.httpStatus !== 401) throw error;
        callerToken.discard(token);
      }
    }
  }

  async function send(batch: Batch<CheckResult>): Promise<void> {
    const { subject, context, checks } = batch;
    try {
      let decisions: Decision[];
      if (checks.length === 1) {
        const only = checks[0]!.check;
        decisions = [parseAnswer(decision, await post('/decide', { subject, ...only, context }), 'decision')];
      } else {
        const answer = await post('/decide', { subject, checks: checks.map((p) => p.check), context });
        decisions = parseAnswer(batchAnswer, answer, 'decision').results;
        if (decisions.length !== checks.length)
          throw new TollgateUnavailableError('server_error', 'the batch answer does not match the checks');
      }
      for (const [index, pending] of checks.entries()) cache?.set(pending.key, decisions[index]!);
      settle(checks, (index) => decisions[index]!);
    } catch (error) {
      // Tollgate refuses a whole batch for one bad check (or one too large as a whole): each is
      // asked again alone, so one caller's mistake fails only its own check.
      if (
        error instanceof TollgateRequestError &&
        (error.httpStatus === 400 || error.httpStatus === 413) &&
        checks.length > 1
      ) {
        for (const pending of checks) void send({ subject, context, checks: [pending] });
        return;
      }
      if (error instanceof TollgateUnavailableError && failClosed)
        return settle(checks, () => unavailable(error));
      fail(checks, error);
    }
  }

  const batcher = new CheckBatcher<CheckResult>((batch) => void send(batch));

  function ask(
    subject: DecisionRequest['subject'],
    context: DecisionRequest['context'],
    check: DecisionRequest,
  ) {
    const question = {
      action: check.action,
      resource: check.resource,
      ...(check.field === undefined ? {} : { field: check.field }),
    };
    // Computed before anything is queued: a value JSON cannot carry fails this call alone.
    const key = stableKey([subject, context ?? null, question]);
    const cached = cache?.get(key);
    if (cached) return Promise.resolve(cached);
    // What is sent is the question as it was asked: a caller that reuses and changes its objects
    // before the batch leaves must not change the question (nor the answer it gets).
    const [asked, askedContext, askedCheck] = JSON.parse(key) as [
      SubjectInput,
      Record<string, unknown> | null,
      CheckInput,
    ];
    return batcher.add(asked, askedContext ?? undefined, askedCheck, key);
  }

  return {
    check(request) {
      try {
        return ask(request.subject, request.context, request);
      } catch (error) {
        return Promise.reject(error);
      }
    },

    checkMany(request) {
      try {
        return Promise.all(
          request.checks.map((check, index) =>
            ask(request.subject, request.context, { subject: request.subject, ...check }).catch((error) => {
              throw error instanceof TollgateRequestError ? within(error, index) : error;
            }),
          ),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async plan(request) {
      try {
        const body = {
          subject: request.subject,
          action: request.action,
          resource: request.resource,
          context: request.context,
        };
        return parseAnswer(planAnswer, await post('/decide/plan', body), 'plan');
      } catch (error) {
        if (!(error instanceof TollgateUnavailableError && failClosed)) throw error;
        return { plan: { kind: 'never' }, policy: null, reason: 'tollgate_unavailable', detail: error.code };
      }
    },
  };
}

function unavailable(error: TollgateUnavailableError): UnavailableDecision {
  return { allow: false, reason: 'tollgate_unavailable', detail: error.code, rule: null, policy: null };
}

/** The error of check `index` of a checkMany, named as Tollgate names fields in a batch. */
function within(error: TollgateRequestError, index: number): TollgateRequestError {
  return new TollgateRequestError(
    error.httpStatus,
    error.error,
    `checks.${index}.${error.error_description}`,
  );
}
