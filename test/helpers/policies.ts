/** A small Invoice policy for tests over HTTP: tenant isolation plus a deny override. */
export const INVOICE_POLICY = `resource: Invoice
rules:
  - id: read-own-tenant
    roles: [accountant]
    actions: [read, update]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
  - id: paid-immutable
    roles: ["*"]
    actions: [update, delete]
    effect: deny
    when: { status: paid }
    reason: paid invoices are immutable
`;

export const policyFiles = (extra = '') => [{ name: 'invoice.yaml', content: INVOICE_POLICY + extra }];

/**
 * How an explanation shows a rule's `tenant: "${subject.attrs.tenant}"` failing for a subject of
 * tenant acme and a resource of tenant globex (pdp/explain.ts).
 */
export const TENANT_MISMATCH = {
  attribute: 'tenant',
  operator: '$eq',
  expected: 'acme',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
  placeholder: '${subject.attrs.tenant}',
  actual: 'globex',
  holds: false,
} as const;

/**
 * A policy under which any subject reads any resource of `type`, with the gateway route
 * `GET <path>/:id`: for tests of what happens before a decision (tokens, bindings).
 */
export const anyoneReads = (type: string, path: string) => `resource: ${type}
rules:
  - id: anyone-reads
    roles: ["*"]
    actions: [read]
    effect: allow
routes:
  - match: GET ${path}/:id
    action: read
    resource: { id: ":id" }
`;
