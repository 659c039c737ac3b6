import type Router from '@koa/router';
import { z } from 'zod';
import {
  type AuditSink,
  type DecisionPage,
  type InputHasher,
  isDecisionInput,
  recentDecisions,
} from '../audit/index.ts';
import { parseInput, TollgateError } from '../common/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { type PolicyStore, type PushOutcome, previewRecorded, type RecordedDecision } from '../pdp/index.ts';
import { instant } from './audit-routes.ts';

const files = z
  .array(
    z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9._-]+\.ya?ml$/, 'must be a plain file name ending in .yaml or .yml'),
        content: z.string().max(1_000_000),
      })
      .strict(),
  )
  .min(1, 'needs at least one file')
  .max(500);

const pushBody = z.object({ files }).strict();

/** The most recorded decisions one preview replays: about a second of replay, a few hundred MB at most. */
export const MAX_PREVIEW_DECISIONS = 500_000;

const previewBody = z
  .object({
    files,
    since: instant.optional(),
    until: instant.optional(),
    limit: z.number().int().min(1).max(MAX_PREVIEW_DECISIONS).default(100_000),
    examples: z.number().int().min(0).max(20).default(3),
  })
  .strict();

/** Renders a rejected set: every problem and failing test, as data a CLI can print. */
export function rejection(outcome: Extract<PushOutcome, { ok: false }>) {
  return {
    error: 'invalid_request',
    error_description: `policy set rejected: ${outcome.problems.length} problem(s), ${outcome.failures.length} failing test(s)`,
    problems: outcome.problems,
    failures: outcome.failures.map((f) => ({
      file: f.case.file,
      name: f.case.name,
      expected: { allow: f.case.expect === 'allow', reason: f.case.reason },
      actual: { allow: f.actual.allow, reason: f.actual.reason, rule: f.actual.rule },
    })),
  };
}

export interface PolicyRouteDeps {
  policies: PolicyStore;
  audit: AuditSink;
  /** The decision log is read from here for previews (and from segments on the embedded database). */
  db: DatabaseHandle;
  auditSegments: string | undefined;
  /** How the log hashed inputs (DECISION_LOG_INPUTS=hashed); only the service holds its key. */
  inputHasher: InputHasher;
}

/** Mounted inside the admin router (already authenticated with scope `admin`). */
export function addPolicyRoutes(router: Router, deps: PolicyRouteDeps): void {
  const { policies, audit } = deps;
  router.post('/policies', async (ctx) => {
    const { files } = parseInput(pushBody, ctx.request.body);
    const caller = (ctx.state as { caller?: { clientId?: string } }).caller;
    const outcome = await policies.push(files, `client ${caller?.clientId ?? 'unknown'}`);
    if (!outcome.ok) {
      ctx.status = 400;
      ctx.body = rejection(outcome);
      return;
    }
    audit.record({
      type: 'policy.pushed',
      actor: caller?.clientId,
      ip: ctx.ip,
      data: { version: outcome.version, resources: outcome.resources, files: files.map((f) => f.name) },
    });
    ctx.status = 201;
    ctx.body = { version: outcome.version, resources: outcome.resources };
  });
  router.get('/policies', async (ctx) => {
    ctx.body = { versions: await policies.list() };
  });

  // One preview at a time per instance: each holds up to MAX_PREVIEW_DECISIONS in memory.
  let previewing = false;
  /**
   * Policy impact preview (issue 13; docs/architecture.md 3.5): the recorded decisions, newest
   * first, replayed against the set in force and the candidate, which is validated and tested as
   * a push would be and never stored.
   */
  router.post('/policies/preview', async (ctx) => {
    const body = parseInput(previewBody, ctx.request.body);
    const candidate = policies.candidate(body.files);
    if (!candidate.ok) {
      ctx.status = 400;
      ctx.body = rejection(candidate);
      return;
    }
    if (previewing)
      throw new TollgateError('too_many_requests', 'a policy preview is already running on this instance', {
        retryAfterSeconds: 5,
      });
    previewing = true;
    try {
      const current = policies.current;
      const window = { since: body.since, until: body.until };
      const unreadable = { count: 0 };
      const pages = readable(recentDecisions(deps.db, window, body.limit, deps.auditSegments), unreadable);
      const report = await previewRecorded(current, candidate.set, pages, {
        examples: body.examples,
        hasher: deps.inputHasher,
      });
      ctx.body = {
        current_version: current.version,
        window: {
          since: body.since?.toISOString() ?? null,
          until: body.until?.toISOString() ?? null,
          limit: body.limit,
        },
        ...report,
        skipped: { ...report.skipped, unreadable: unreadable.count },
      };
    } finally {
      previewing = false;
    }
  });
}

/**
 * The log's pages as the replay reads them, counting the decisions of rows that could not be
 * read; inputs of any other shape than recorded ones (a row edited in the table) count as none.
 */
async function* readable(
  pages: AsyncIterable<DecisionPage>,
  unreadable: { count: number },
): AsyncGenerator<RecordedDecision[]> {
  for await (const page of pages) {
    unreadable.count += page.unreadable;
    yield page.decisions.map((decision) =>
      isDecisionInput(decision.data.input) && typeof decision.data.resource?.type === 'string'
        ? (decision as RecordedDecision)
        : { subject: null, data: { action: '', resource: { type: '' } } },
    );
  }
}
