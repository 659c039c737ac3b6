import { createHash, randomBytes } from 'node:crypto';
import type { ResourceRef } from '../../src/pdp/index.ts';
import { Browser, loginThroughForms } from '../../test/helpers/browser.ts';
import { type AdminCall, adminApi, basicAuth, requestToken, type TollgateProcess } from './tollgate.ts';

/** The API the end user's token is for; Tollgate runs with SUBJECT_TOKEN_AUDIENCES set to it. */
export const USER_API = 'https://invoices.bench.tollgate.test';
const REDIRECT_URI = 'https://app.bench.tollgate.test/callback';

/** The end user: an accountant of tenant acme (policies/invoice.yaml, invoice.test.yaml). */
export const USER = { username: 'carol', roles: ['accountant'], attrs: { tenant: 'acme' } };

export interface DecideFixtures {
  /** A fresh client-credentials token of the `gw` caller (scope decide; 300 s lifetime). */
  callerToken(): Promise<string>;
  /** The user's access token, from a real login through the forms and a code exchange. */
  userToken: string;
  /** The user's id (`sub` of the token). */
  userId: string;
}

/**
 * Creates, through the admin API: the caller client `gw` (client_credentials, scope decide on
 * Tollgate's own API), the user carol (accountant of acme), an API and an authorization_code
 * client; then logs carol in through the real login form (PKCE S256) and exchanges the code.
 */
export async function provisionDecide(tollgate: TollgateProcess): Promise<DecideFixtures> {
  const admin = await adminApi(tollgate);
  const gw = await admin('/clients', {
    name: 'gw',
    grant_types: ['client_credentials'],
    scope: 'decide',
    api: 'urn:tollgate',
  });
  const callerToken = () =>
    requestToken(tollgate.url, String(gw.client_id), String(gw.client_secret), 'decide');

  const password = randomBytes(18).toString('base64url');
  const user = await admin('/users', { ...USER, password });
  const userToken = await loginUser(tollgate, admin, { username: USER.username, password });
  return { callerToken, userToken, userId: String(user.id) };
}

async function loginUser(
  tollgate: TollgateProcess,
  admin: AdminCall,
  credentials: { username: string; password: string },
): Promise<string> {
  // One hour: the longest lifetime an API may give, so the token outlives any benchmark run.
  await admin('/apis', { audience: USER_API, scopes: ['read'], alg: 'ES256', ttl: 3600 });
  const web = await admin('/clients', {
    name: 'web',
    grant_types: ['authorization_code'],
    redirect_uris: [REDIRECT_URI],
    scope: 'read',
    api: USER_API,
  });
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL('/auth', tollgate.url);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: String(web.client_id),
    redirect_uri: REDIRECT_URI,
    scope: 'openid read',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const { redirect } = await loginThroughForms(
    new Browser(),
    authorize.toString(),
    tollgate.url,
    credentials,
  );
  const code = redirect.searchParams.get('code');
  if (!code || redirect.searchParams.get('state') !== state) {
    throw new Error(`login did not end with a code: ${redirect.toString()}`);
  }
  const response = await fetch(`${tollgate.url}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(String(web.client_id), String(web.client_secret)),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token) {
    throw new Error(`code exchange failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/** What a check must answer (compared before loading). */
export interface Expected {
  allow: boolean;
  reason?: string;
  rule?: string | null;
}

type Check = { action: string; resource: ResourceRef; field?: string };

/** The explicit subject: same roles and tenant as carol. */
export const EXPLICIT_SUBJECT = { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } };

/**
 * The single check: an accountant of acme reads an acme invoice — allowed by the templated rule
 * `accountant-works-on-tenant-invoices` (`tenant: "${subject.attrs.tenant}"`).
 */
export const SINGLE_CHECK: Check = {
  action: 'read',
  resource: {
    type: 'Invoice',
    id: 'inv_2',
    attrs: { tenant: 'acme', ownerId: 'u2', status: 'sent', amount: 1200, createdBy: 'a2' },
  },
};
export const SINGLE_EXPECTED: Expected = {
  allow: true,
  reason: 'allowed',
  rule: 'accountant-works-on-tenant-invoices',
};
export const CONTEXT = { ip: '10.0.0.7', region: 'eu' };

const invoice = (id: string, attrs: Record<string, unknown>): ResourceRef => ({ type: 'Invoice', id, attrs });
const project = (id: string, attrs: Record<string, unknown>): ResourceRef => ({ type: 'Project', id, attrs });

/**
 * Ten kinds of checks an accountant of acme (id a1) might send in one batch — allows, a deny
 * override, the four-eyes deny, default denies, another tenant, both resource types — twice,
 * with different ids: 20 checks.
 */
const BATCH_KINDS: [Check, Expected][] = [
  [SINGLE_CHECK, SINGLE_EXPECTED],
  [
    { action: 'read', resource: invoice('inv_9', { tenant: 'globex' }) },
    { allow: false, reason: 'no_matching_rule' },
  ],
  [
    { action: 'update', resource: invoice('inv_3', { tenant: 'acme', status: 'draft' }) },
    { allow: true, reason: 'allowed' },
  ],
  [
    { action: 'update', resource: invoice('inv_4', { tenant: 'acme', status: 'paid' }) },
    { allow: false, reason: 'paid invoices are immutable', rule: 'Invoice#1' },
  ],
  [
    {
      action: 'approve',
      resource: invoice('inv_5', { tenant: 'acme', amount: 5000, status: 'sent', createdBy: 'a2' }),
    },
    { allow: true, reason: 'allowed', rule: 'accountant-approves-up-to-10000' },
  ],
  [
    {
      action: 'approve',
      resource: invoice('inv_6', { tenant: 'acme', amount: 5000, status: 'sent', createdBy: 'a1' }),
    },
    { allow: false, reason: 'nobody approves an invoice they created', rule: 'four-eyes' },
  ],
  [
    {
      action: 'approve',
      resource: invoice('inv_7', { tenant: 'acme', amount: 25000, status: 'sent', createdBy: 'a2' }),
    },
    { allow: false, reason: 'no_matching_rule' },
  ],
  [
    { action: 'read', field: 'internalNotes', resource: invoice('inv_8', { tenant: 'acme', ownerId: 'u2' }) },
    { allow: true, reason: 'allowed' },
  ],
  [
    {
      action: 'read',
      resource: project('p1', { tenant: 'acme', members: ['u1', 'a1'], owner: { id: 'u2' } }),
    },
    { allow: true, reason: 'allowed', rule: 'members-read-and-comment' },
  ],
  [
    { action: 'update', resource: project('p2', { tenant: 'acme', owner: { id: 'a1' }, archived: true }) },
    { allow: false, reason: 'archived projects are read-only' },
  ],
];

export const BATCH_CHECKS: { check: Check; expected: Expected }[] = [0, 1].flatMap((round) =>
  BATCH_KINDS.map(([check, expected]) => ({
    check: {
      ...check,
      resource: { ...check.resource, id: `${String(check.resource.id)}${round === 0 ? '' : '_b'}` },
    },
    expected,
  })),
);

/** Differences between an answer and what was expected ('' when it matches). */
export function mismatch(answer: unknown, expected: Expected): string {
  const a = (answer ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (a.allow !== expected.allow) problems.push(`allow ${String(a.allow)} ≠ ${expected.allow}`);
  if (expected.reason !== undefined && a.reason !== expected.reason)
    problems.push(`reason ${JSON.stringify(a.reason)} ≠ ${JSON.stringify(expected.reason)}`);
  if (expected.rule !== undefined && a.rule !== expected.rule)
    problems.push(`rule ${JSON.stringify(a.rule)} ≠ ${JSON.stringify(expected.rule)}`);
  return problems.join(', ');
}
