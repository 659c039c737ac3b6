/**
 * The checks bench/peer.ts sends to Tollgate and to Cerbos, the translation of a Tollgate check
 * into a Cerbos CheckResources request, and the equivalence proof run before any load: Cerbos
 * must decide every benchmark check and every applicable case of policies/*.test.yaml exactly
 * as Tollgate does.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { compilePolicySet, type ResourceRef, readPolicyDir, type Subject } from '../../src/pdp/index.ts';
import { decideHeaders } from './decide-run.ts';
import { CONTEXT, EXPLICIT_SUBJECT, type Expected, SINGLE_CHECK, SINGLE_EXPECTED } from './decide-setup.ts';

/** Resources with the actions asked about each: one entry of a CheckResources request. */
export interface ResourceActions {
  resource: ResourceRef;
  actions: string[];
}

const invoice = (id: string, attrs: Record<string, unknown>): ResourceRef => ({ type: 'Invoice', id, attrs });
const project = (id: string, attrs: Record<string, unknown>): ResourceRef => ({ type: 'Project', id, attrs });
const INVOICE_ACTIONS = ['read', 'update', 'approve', 'delete'];
const PROJECT_ACTIONS = ['read', 'comment', 'update', 'delete'];

/** The single check of bench/decide.ts: an accountant of acme reads an acme invoice. */
export const SINGLE: { entries: ResourceActions[]; expected: Expected[] } = {
  entries: [{ resource: SINGLE_CHECK.resource, actions: [SINGLE_CHECK.action] }],
  expected: [SINGLE_EXPECTED],
};

/**
 * The batch: 5 resources × 4 actions for the same accountant (a1 of acme) — one CheckResources
 * request for Cerbos, the same 20 checks in one /decide request for Tollgate. Allows, a deny
 * override (paid), the four-eyes deny, approval limits, another tenant, a project membership.
 */
const BATCH_ROWS: (ResourceActions & { allows: boolean[] })[] = [
  { resource: SINGLE_CHECK.resource, actions: INVOICE_ACTIONS, allows: [true, true, true, false] },
  {
    resource: invoice('inv_4', { tenant: 'acme', status: 'paid', amount: 300, createdBy: 'a2' }),
    actions: INVOICE_ACTIONS,
    allows: [true, false, false, false],
  },
  {
    resource: invoice('inv_6', { tenant: 'acme', status: 'sent', amount: 5000, createdBy: 'a1' }),
    actions: INVOICE_ACTIONS,
    allows: [true, true, false, false],
  },
  {
    resource: invoice('inv_9', { tenant: 'globex', status: 'sent', amount: 25000, createdBy: 'g1' }),
    actions: INVOICE_ACTIONS,
    allows: [false, false, false, false],
  },
  {
    resource: project('p1', {
      tenant: 'acme',
      members: ['u1', 'a1'],
      owner: { id: 'u2' },
      visibility: 'internal',
    }),
    actions: PROJECT_ACTIONS,
    allows: [true, true, false, false],
  },
];

export const BATCH: { entries: ResourceActions[]; expected: Expected[] } = {
  entries: BATCH_ROWS.map(({ resource, actions }) => ({ resource, actions })),
  expected: BATCH_ROWS.flatMap((row) => row.allows.map((allow) => ({ allow }))),
};

/** Tollgate's /decide body for the same checks: one check per (resource, action). */
export function tollgateBody(entries: ResourceActions[]): Record<string, unknown> {
  const checks = entries.flatMap(({ resource, actions }) => actions.map((action) => ({ action, resource })));
  if (checks.length === 1) return { subject: EXPLICIT_SUBJECT, ...checks[0], context: CONTEXT };
  return { subject: EXPLICIT_SUBJECT, checks, context: CONTEXT };
}

/**
 * Cerbos's CheckResources body. Cerbos has no request context: Tollgate's `context` travels as
 * the principal attribute `context` (bench/cerbos/tenant_roles.yaml reads it there).
 */
export function cerbosBody(
  subject: Subject,
  context: Record<string, unknown> | undefined,
  entries: ResourceActions[],
): Record<string, unknown> {
  return {
    principal: {
      id: subject.id,
      roles: subject.roles,
      attr: context === undefined ? subject.attrs : { ...subject.attrs, context },
    },
    resources: entries.map(({ resource, actions }) => ({
      actions,
      resource: { kind: resource.type, id: resource.id ?? 'new', attr: resource.attrs ?? {} },
    })),
  };
}

export const cerbosSingleBody = () => cerbosBody(EXPLICIT_SUBJECT, CONTEXT, SINGLE.entries);
export const cerbosBatchBody = () => cerbosBody(EXPLICIT_SUBJECT, CONTEXT, BATCH.entries);

const cerbosAnswer = z.object({
  results: z.array(
    z.object({
      resource: z.object({ id: z.string(), kind: z.string() }),
      actions: z.record(z.string(), z.enum(['EFFECT_ALLOW', 'EFFECT_DENY'])),
    }),
  ),
});

/** Asks Cerbos; resolves with allow/deny per (resource, action), in the order they were asked. */
export async function askCerbos(url: string, body: Record<string, unknown>): Promise<boolean[]> {
  const response = await fetch(`${url}/api/check/resources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`Cerbos answered ${response.status}: ${text}`);
  const answer = cerbosAnswer.parse(JSON.parse(text));
  const asked = body.resources as { actions: string[] }[];
  if (answer.results.length !== asked.length) throw new Error(`Cerbos answered for other resources: ${text}`);
  return asked.flatMap((entry, i) =>
    entry.actions.map((action) => {
      const effect = answer.results[i]?.actions[action];
      if (effect === undefined) throw new Error(`Cerbos gave no effect for ${action}: ${text}`);
      return effect === 'EFFECT_ALLOW';
    }),
  );
}

const tollgateAnswer = z.object({ allow: z.boolean() });
const tollgateBatchAnswer = z.object({ results: z.array(tollgateAnswer) });

async function askTollgate(
  url: string,
  callerToken: string,
  body: Record<string, unknown>,
): Promise<boolean[]> {
  const response = await fetch(`${url}/decide`, {
    method: 'POST',
    headers: decideHeaders(callerToken),
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`Tollgate answered ${response.status}: ${text}`);
  const json = JSON.parse(text) as unknown;
  return 'checks' in body
    ? tollgateBatchAnswer.parse(json).results.map((r) => r.allow)
    : [tollgateAnswer.parse(json).allow];
}

/**
 * The single check and the batch, asked of the running Tollgate and of Cerbos: both must give
 * the expected allow/deny for every check. Returns a one-line summary; throws on any difference.
 */
export async function verifyBenchChecks(
  tollgate: { url: string; callerToken: string },
  cerbosUrl: string,
): Promise<string> {
  const problems: string[] = [];
  let count = 0;
  for (const [name, form] of [
    ['single', SINGLE],
    ['batch', BATCH],
  ] as const) {
    const fromTollgate = await askTollgate(tollgate.url, tollgate.callerToken, tollgateBody(form.entries));
    const fromCerbos = await askCerbos(cerbosUrl, cerbosBody(EXPLICIT_SUBJECT, CONTEXT, form.entries));
    const labels = form.entries.flatMap(({ resource, actions }) =>
      actions.map((action) => `${action} ${resource.type} ${resource.id}`),
    );
    form.expected.forEach((expected, i) => {
      count++;
      if (fromTollgate[i] !== expected.allow || fromCerbos[i] !== expected.allow)
        problems.push(
          `${name} check ${i} (${labels[i]}): expected ${expected.allow}, Tollgate ${fromTollgate[i]}, Cerbos ${fromCerbos[i]}`,
        );
    });
  }
  if (problems.length > 0) throw new Error(`Cerbos and Tollgate disagree:\n  ${problems.join('\n  ')}`);
  return `${count} benchmark checks: Tollgate and Cerbos both give the expected allow/deny`;
}

/** Cases of policies/*.test.yaml compared with Cerbos, and those Cerbos cannot express. */
export interface PolicyCaseComparison {
  compared: number;
  skipped: { name: string; why: string }[];
}

/**
 * Every case of ./policies' test files, decided in-process by Tollgate's compiled policy set
 * and asked of Cerbos: both must match the case's expectation. Skipped: field-level cases (Cerbos
 * has no field rules) and subjects without roles (Cerbos requires one). Throws on a difference.
 */
export async function comparePolicyTests(cerbosUrl: string): Promise<PolicyCaseComparison> {
  const files = await readPolicyDir(resolve(import.meta.dirname, '../../policies'));
  const compiled = compilePolicySet(files, 1);
  if (!compiled.ok) throw new Error('./policies does not compile');
  const skipped: PolicyCaseComparison['skipped'] = [];
  const problems: string[] = [];
  let compared = 0;
  for (const testCase of compiled.tests) {
    const { request } = testCase;
    const name = `${testCase.file} › ${testCase.name}`;
    if (request.field !== undefined) {
      skipped.push({ name, why: 'field-level check' });
      continue;
    }
    if (request.subject.roles.length === 0) {
      skipped.push({ name, why: 'subject without roles' });
      continue;
    }
    const expected = testCase.expect === 'allow';
    const tollgate = compiled.set.decide(request).allow;
    const [cerbos] = await askCerbos(
      cerbosUrl,
      cerbosBody(request.subject, request.context, [
        { resource: request.resource, actions: [request.action] },
      ]),
    );
    compared++;
    if (tollgate !== expected || cerbos !== expected)
      problems.push(`${name}: expected ${testCase.expect}, Tollgate ${tollgate}, Cerbos ${cerbos}`);
  }
  if (problems.length > 0)
    throw new Error(`Cerbos and Tollgate disagree on policy test cases:\n  ${problems.join('\n  ')}`);
  return { compared, skipped };
}
