import type Router from '@koa/router';
import { z } from 'zod';
import type { AuditSink } from '../audit/index.ts';
import { parseInput } from '../common/index.ts';
import type { PolicyStore, PushOutcome } from '../pdp/index.ts';

const pushBody = z
  .object({
    files: z
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
      .max(500),
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

/** Mounted inside the admin router (already authenticated with scope `admin`). */
export function addPolicyRoutes(router: Router, policies: PolicyStore, audit: AuditSink): void {
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
}
