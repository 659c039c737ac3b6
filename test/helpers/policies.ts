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
