import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.ts';
import type { TollgateError } from '../../src/common/index.ts';
import { createDecisionEngine, type DecisionLogSettings } from '../../src/decide/index.ts';
import type { SubjectResolution } from '../../src/oidc/index.ts';
import { INVOICE_POLICY } from '../helpers/policies.ts';
import { compileSet } from '../pdp/policy-fixtures.ts';

const ROUTES = `
routes:
  - match: GET /invoices/:id
    action: read
    resource: { id: ":id", attrs: { tenant: acme } }
`;

/** The engine with everything it reports captured: decisions counted, events logged. */
function engine(log: DecisionLogSettings = { enabled: true, allowSample: 1, inputs: 'off' }) {
  const set = compileSet({ 'invoice.yaml': INVOICE_POLICY + ROUTES });
  const events: AuditEvent[] = [];
  const counted: [string, string, boolean][] = [];
  const tokens = new Map<string, SubjectResolution>([
    ['good', { ok: true, subject: { id: 'u-1', roles: ['accountant'], attrs: { tenant: 'acme' } } }],
  ]);
  const subject = createDecisionEngine({
    policies: () => set,
    resolveSubject: async (token) => tokens.get(token) ?? { ok: false, detail: 'signature' },
    audit: { record: (event) => events.push(event) },
    decisionLog: log,
    metrics: { decided: (resource, caller, allow) => counted.push([resource, caller, allow]) },
  });
  return { engine: subject, events, counted };
}

const accountant = { id: 'u-1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const invoice = (status: string) => ({ type: 'Invoice', id: 'inv-1', attrs: { tenant: 'acme', status } });

describe('the decision engine, whatever the transport', () => {
  it('decides a single check and a batch, counting and logging every decision', async () => {
    const { engine: e, events, counted } = engine();
    const one = await e.check({ subject: accountant, action: 'update', resource: invoice('open') }, 'svc');
    assert.equal((one as { allow: boolean }).allow, true);
    const batch = (await e.check(
      {
        subject: accountant,
        checks: [
          { action: 'read', resource: invoice('paid') },
          { action: 'update', resource: invoice('paid') },
        ],
      },
      'svc',
    )) as { results: { allow: boolean; reason: string }[] };
    assert.deepEqual(
      batch.results.map((r) => [r.allow, r.reason]),
      [
        [true, batch.results[0]?.reason],
        [false, 'paid invoices are immutable'],
      ],
    );
    assert.deepEqual(counted, [
      ['Invoice', 'svc', true],
      ['Invoice', 'svc', true],
      ['Invoice', 'svc', false],
    ]);
    assert.deepEqual(
      events.map((event) => [event.type, event.actor, event.subject, event.data?.allow]),
      [
        ['decision', 'svc', 'u-1', true],
        ['decision', 'svc', 'u-1', true],
        ['decision', 'svc', 'u-1', false],
      ],
    );
  });

  it('names the check whose resource type no policy covers, for checks and plans alike', async () => {
    const { engine: e, events } = engine();
    const unknown = { type: 'Payslip', id: 'p-1', attrs: {} };
    await assert.rejects(
      e.check(
        {
          subject: accountant,
          checks: [
            { action: 'read', resource: invoice('open') },
            { action: 'read', resource: unknown },
          ],
        },
        'svc',
      ),
      (error: TollgateError) =>
        error.code === 'invalid_request' &&
        error.message === 'checks.1.resource.type: no policy for resource type Payslip',
    );
    await assert.rejects(
      e.plan({ subject: accountant, action: 'read', resource: { type: 'Payslip' } }),
      /^TollgateError: resource\.type: no policy for resource type Payslip$|resource\.type: no policy for resource type Payslip/,
    );
    assert.equal(events.length, 0, 'a refused request decides nothing');
  });

  it('answers an invalid subject token with a logged denial, and plans nothing for it', async () => {
    const { engine: e, events, counted } = engine();
    const answer = await e.check(
      { subject: { token: 'forged' }, action: 'read', resource: invoice('open') },
      'svc',
    );
    assert.deepEqual(answer, {
      allow: false,
      reason: 'subject_token_invalid',
      detail: 'signature',
      rule: null,
      policy: { resource: 'Invoice', version: 1 },
    });
    assert.equal(events[0]?.data?.detail, 'signature');
    assert.equal(counted.length, 0, 'nothing was evaluated');
    const plan = (await e.plan({
      subject: { token: 'forged' },
      action: 'read',
      resource: { type: 'Invoice' },
    })) as {
      plan: { kind: string };
    };
    assert.equal(plan.plan.kind, 'never');
  });

  it('keeps every denial and no allow with allowSample 0, and nothing when the log is off', async () => {
    for (const [settings, expected] of [
      [{ enabled: true, allowSample: 0, inputs: 'off' }, [false]],
      [{ enabled: false, allowSample: 1, inputs: 'off' }, []],
    ] as const) {
      const { engine: e, events, counted } = engine(settings);
      await e.check({ subject: accountant, action: 'read', resource: invoice('open') }, 'svc');
      await e.check({ subject: accountant, action: 'update', resource: invoice('paid') }, 'svc');
      assert.deepEqual(
        events.map((event) => event.data?.allow),
        expected,
      );
      assert.equal(counted.length, 2, 'metrics count every decision whatever the log keeps');
    }
  });

  it('matches a gateway request to a policy route and decides it; no route decides nothing', () => {
    const { engine: e, events } = engine();
    const subject = accountant;
    const matched = e.decideRoute({
      method: 'GET',
      segments: ['invoices', 'inv-9'],
      subject,
      context: { method: 'GET', path: '/invoices/inv-9' },
      caller: 'gateway:edge',
    });
    assert.ok(matched.route);
    assert.deepEqual(matched.route.resource, { type: 'Invoice', id: 'inv-9', attrs: { tenant: 'acme' } });
    assert.equal(matched.decision.allow, true);
    assert.equal(events[0]?.actor, 'gateway:edge');
    const none = e.decideRoute({
      method: 'DELETE',
      segments: ['invoices', 'inv-9'],
      subject,
      context: {},
      caller: 'gateway:edge',
    });
    assert.equal(none.route, undefined);
    assert.equal(events.length, 1);
  });

  it('holds answers while the decision log is behind, and only then', async () => {
    let release = () => {};
    let behind = true;
    const set = compileSet({ 'invoice.yaml': INVOICE_POLICY + ROUTES });
    const make = (enabled: boolean) =>
      createDecisionEngine({
        policies: () => set,
        resolveSubject: async () => ({ ok: false, detail: 'signature' }),
        audit: {
          record() {},
          backpressure: () => (behind ? new Promise<void>((done) => (release = done)) : undefined),
        },
        decisionLog: { enabled, allowSample: 1, inputs: 'off' },
        metrics: { decided() {} },
      });
    let answered = false;
    const pending = make(true)
      .check({ subject: accountant, action: 'read', resource: invoice('open') }, 'svc')
      .then(() => (answered = true));
    await new Promise((done) => setTimeout(done, 20));
    assert.equal(answered, false, 'waits for the writer');
    release();
    await pending;
    assert.equal(answered, true);
    // Without a decision log nothing is waited for; a writer that keeps up is never waited for.
    await make(false).check({ subject: accountant, action: 'read', resource: invoice('open') }, 'svc');
    behind = false;
    await make(true).check({ subject: accountant, action: 'read', resource: invoice('open') }, 'svc');
  });

  it('refuses unsafe JSON before any schema, naming the path', async () => {
    const { engine: e } = engine();
    const body = JSON.parse(
      '{"subject":{"id":"u","attrs":{"__proto__":{"admin":true}}},"action":"read","resource":{"type":"Invoice","id":"i"}}',
    );
    await assert.rejects(e.check(body, 'svc'), /body\.subject\.attrs\.__proto__/);
  });
});
