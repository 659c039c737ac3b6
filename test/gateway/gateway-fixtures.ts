import assert from 'node:assert/strict';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { loggedInUser } from '../helpers/users.ts';

export const USER_API = 'https://shop.example.test';

/** Routes for every path-confusion trick: a public area, an admin area, a case-blind docs area. */
export const GATEWAY_POLICIES = [
  {
    name: 'invoice.yaml',
    content: `resource: Invoice
rules:
  - id: accountants-read-own-tenant
    roles: [accountant]
    actions: [read]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
routes:
  - match: GET /tenants/:tenant/invoices/:id
    action: read
    resource: { id: ":id", attrs: { tenant: ":tenant" } }
  - match: DELETE /tenants/:tenant/invoices/:id
    action: delete
    resource: { id: ":id", attrs: { tenant: ":tenant" } }
`,
  },
  {
    name: 'page.yaml',
    content: `resource: Page
rules:
  - id: anyone-reads-public
    roles: ["*"]
    actions: [read]
    effect: allow
    when: { area: public }
  - id: admins-read-admin
    roles: [admin]
    actions: [read]
    effect: allow
    when: { area: admin }
  - id: anyone-reads-own-host
    roles: ["*"]
    actions: [read]
    effect: allow
    when: { area: hosted, host: "\${context.host}" }
routes:
  - match: GET /public
    action: read
    resource: { attrs: { area: public } }
  - match: GET /public/:page
    action: read
    resource: { id: ":page", attrs: { area: public } }
  - match: GET /admin
    action: read
    resource: { attrs: { area: admin } }
  - match: GET /admin/:page
    action: read
    resource: { id: ":page", attrs: { area: admin } }
  - match: GET /hosted/:page
    action: read
    resource: { id: ":page", attrs: { area: hosted, host: api.example.test } }
  - match: GET /docs/:page
    ignoreCase: true
    action: read
    resource: { id: ":page", attrs: { area: public } }
`,
  },
];

export interface GatewaySetup {
  tg: TestInstance;
  /** The gateway credential, minted through the admin API. */
  gatewayKey: string;
  /** carol: accountant of tenant acme. */
  carol: { accessToken: string; userId: string; clientId: string };
  /** dave: admin. */
  dave: { accessToken: string; userId: string; clientId: string };
}

/** A Tollgate with the gateway policies, a gateway credential and two logged-in users. */
export async function startGatewaySetup(env: Record<string, string> = {}): Promise<GatewaySetup> {
  const tg = await startTestInstance({ SUBJECT_TOKEN_AUDIENCES: USER_API, ...env });
  const pushed = await tg.admin$('POST', '/policies', { files: GATEWAY_POLICIES });
  assert.equal(pushed.status, 201, await pushed.clone().text());
  const carol = await loggedInUser(
    tg,
    { username: 'carol', password: 'carol password', roles: ['accountant'], attrs: { tenant: 'acme' } },
    { audience: USER_API },
  );
  const dave = await loggedInUser(
    tg,
    { username: 'dave', password: 'dave password', roles: ['admin'] },
    { audience: USER_API, create: false },
  );
  // The gateway protects USER_API only: tokens for any other API are refused (issue 9).
  const gateway = await tg.admin$('POST', '/gateways', { name: 'edge', apis: [USER_API] });
  assert.equal(gateway.status, 201, await gateway.clone().text());
  const { key } = (await gateway.json()) as { key: string };
  return { tg, gatewayKey: key, carol, dave };
}
