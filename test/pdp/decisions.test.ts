import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionRequest } from '../../src/pdp/index.ts';
import { UnknownResourceTypeError } from '../../src/pdp/index.ts';
import { compileSet, subject } from './policy-fixtures.ts';

const DOCS = `
resource: Doc
rules:
  - id: readers-read
    roles: [reader]
    actions: [read]
    effect: allow
  - id: anyone-reads-public
    roles: ["*"]
    actions: [read]
    effect: allow
    when: { visibility: public }
  - id: editors-edit-drafts-and-reviews
    roles: [editor]
    actions: [update]
    effect: allow
    when: { state: { $in: [draft, review] } }
  - id: archivists-archive-the-unarchived
    roles: [archivist]
    actions: [archive]
    effect: allow
    when: { state: { $ne: archived } }
  - id: seniors-publish-long-docs
    roles: [senior]
    actions: [publish]
    effect: allow
    when: { pages: { $gt: 100 } }
  - id: reviewers-review-their-team
    roles: [reviewer]
    actions: [review]
    effect: allow
    when: { author.team: "\${subject.attrs.team}" }
  - id: kiosks-read-on-site
    roles: [kiosk]
    actions: [read]
    effect: allow
    when: { site: "\${context.site}" }
  - id: superusers-do-anything
    roles: [superuser]
    actions: ["*"]
    effect: allow
  - id: managers-manage
    roles: [manager]
    actions: [manage]
    effect: allow
  - id: readers-never-see-secrets
    roles: [reader]
    actions: [read]
    effect: deny
    fields: [secret]
    reason: secrets are for superusers
  - id: locked-docs
    roles: ["*"]
    actions: ["*"]
    effect: deny
    when: { locked: true }
    reason: the document is locked
`;

const set = compileSet({ 'doc.yaml': DOCS }, 3);

interface Case {
  name: string;
  roles: string[];
  action: string;
  attrs?: Record<string, unknown>;
  subjectAttrs?: Record<string, unknown>;
  context?: Record<string, unknown>;
  field?: string;
  allow: boolean;
  rule: string | null;
  reason?: string;
}

const cases: Case[] = [
  { name: 'allows a role its action', roles: ['reader'], action: 'read', allow: true, rule: 'readers-read' },
  {
    name: 'denies by default when no rule matches',
    roles: ['reader'],
    action: 'update',
    allow: false,
    rule: null,
    reason: 'no_matching_rule',
  },
  {
    name: 'denies a subject without roles by default',
    roles: [],
    action: 'read',
    allow: false,
    rule: null,
    reason: 'no_matching_rule',
  },
  {
    name: 'applies "*" roles to any subject, even one without roles',
    roles: [],
    action: 'read',
    attrs: { visibility: 'public' },
    allow: true,
    rule: 'anyone-reads-public',
  },
  {
    name: 'gives a subject claiming the role "*" nothing more than anyone',
    roles: ['*'],
    action: 'update',
    attrs: { state: 'draft' },
    allow: false,
    rule: null,
  },
  {
    name: 'applies "*" actions to actions no rule names',
    roles: ['superuser'],
    action: 'frobnicate',
    allow: true,
    rule: 'superusers-do-anything',
  },
  {
    name: 'treats an action named "manage" as just an action',
    roles: ['manager'],
    action: 'delete',
    allow: false,
    rule: null,
  },
  {
    name: 'lets a deny override an allow for any role ("*" roles, "*" actions)',
    roles: ['superuser'],
    action: 'read',
    attrs: { locked: true },
    allow: false,
    rule: 'locked-docs',
    reason: 'the document is locked',
  },
  {
    name: 'matches $in',
    roles: ['editor'],
    action: 'update',
    attrs: { state: 'review' },
    allow: true,
    rule: 'editors-edit-drafts-and-reviews',
  },
  {
    name: 'rejects a value outside $in',
    roles: ['editor'],
    action: 'update',
    attrs: { state: 'final' },
    allow: false,
    rule: null,
  },
  {
    name: 'matches $ne when the value differs',
    roles: ['archivist'],
    action: 'archive',
    attrs: { state: 'final' },
    allow: true,
    rule: 'archivists-archive-the-unarchived',
  },
  {
    name: 'matches $ne when the attribute is absent (MongoDB semantics)',
    roles: ['archivist'],
    action: 'archive',
    attrs: {},
    allow: true,
    rule: 'archivists-archive-the-unarchived',
  },
  {
    name: 'rejects $ne on an equal value',
    roles: ['archivist'],
    action: 'archive',
    attrs: { state: 'archived' },
    allow: false,
    rule: null,
  },
  {
    name: 'matches $gt above the bound',
    roles: ['senior'],
    action: 'publish',
    attrs: { pages: 101 },
    allow: true,
    rule: 'seniors-publish-long-docs',
  },
  {
    name: 'rejects $gt at the bound',
    roles: ['senior'],
    action: 'publish',
    attrs: { pages: 100 },
    allow: false,
    rule: null,
  },
  {
    name: 'rejects $gt on a number sent as a string',
    roles: ['senior'],
    action: 'publish',
    attrs: { pages: '500' },
    allow: false,
    rule: null,
  },
  {
    name: `reads nested attribute paths and templates \${subject.attrs.X}`,
    roles: ['reviewer'],
    action: 'review',
    attrs: { author: { team: 'blue' } },
    subjectAttrs: { team: 'blue' },
    allow: true,
    rule: 'reviewers-review-their-team',
  },
  {
    name: 'rejects a nested attribute of another team',
    roles: ['reviewer'],
    action: 'review',
    attrs: { author: { team: 'red' } },
    subjectAttrs: { team: 'blue' },
    allow: false,
    rule: null,
  },
  {
    name: `templates \${context.X}`,
    roles: ['kiosk'],
    action: 'read',
    attrs: { site: 'lobby' },
    context: { site: 'lobby' },
    allow: true,
    rule: 'kiosks-read-on-site',
  },
  {
    name: `does not match a rule whose \${context.X} is missing`,
    roles: ['kiosk'],
    action: 'read',
    attrs: { site: 'lobby' },
    allow: false,
    rule: null,
  },
  {
    name: 'denies a field a deny rule restricts',
    roles: ['reader'],
    action: 'read',
    field: 'secret',
    allow: false,
    rule: 'readers-never-see-secrets',
    reason: 'secrets are for superusers',
  },
  {
    name: 'allows the other fields',
    roles: ['reader'],
    action: 'read',
    field: 'title',
    allow: true,
    rule: 'readers-read',
    reason: 'allowed',
  },
  {
    name: 'lets a field-restricted deny leave whole-resource reads alone',
    roles: ['reader'],
    action: 'read',
    allow: true,
    rule: 'readers-read',
  },
  {
    name: 'names the first declared of several matching allows',
    roles: ['superuser', 'reader'],
    action: 'read',
    attrs: { visibility: 'public' },
    allow: true,
    rule: 'readers-read',
  },
];

describe('decide', () => {
  for (const c of cases) {
    it(c.name, () => {
      const request: DecisionRequest = {
        subject: subject('u1', c.roles, c.subjectAttrs),
        action: c.action,
        resource: { type: 'Doc', id: 'd1', attrs: c.attrs ?? {} },
      };
      if (c.context) request.context = c.context;
      if (c.field) request.field = c.field;
      const decision = set.decide(request);
      assert.equal(decision.allow, c.allow);
      assert.equal(decision.rule, c.rule);
      assert.equal(
        decision.reason,
        c.reason ?? (c.allow ? 'allowed' : c.rule === null ? 'no_matching_rule' : 'denied'),
      );
      assert.deepEqual(decision.policy, { resource: 'Doc', version: 3 });
    });
  }

  it('reads the resource id as the attribute "id" unless the attrs carry one', () => {
    const byId = compileSet({
      'p.yaml': `
resource: Project
rules:
  - roles: [service]
    actions: [read]
    effect: allow
    when: { id: "\${subject.attrs.project}" }
`,
    });
    const ask = (resource: DecisionRequest['resource']) =>
      byId.decide({ subject: subject('svc', ['service'], { project: 'p1' }), action: 'read', resource })
        .allow;
    assert.equal(ask({ type: 'Project', id: 'p1' }), true);
    assert.equal(ask({ type: 'Project', id: 'p2' }), false);
    assert.equal(ask({ type: 'Project', id: 'p1', attrs: { id: 'p2' } }), false);
  });

  it('throws an invalid_request UnknownResourceTypeError for an unknown resource type', () => {
    const request = { subject: subject('u1', ['reader']), action: 'read', resource: { type: 'Nope' } };
    assert.throws(
      () => set.decide(request),
      (error: unknown) =>
        error instanceof UnknownResourceTypeError &&
        error.code === 'invalid_request' &&
        error.status === 400 &&
        error.resourceType === 'Nope' &&
        /resource\.type/.test(error.message),
    );
    assert.equal(set.hasResource('Nope'), false);
    assert.equal(set.hasResource('Doc'), true);
    assert.equal(set.hasResource('__proto__'), false);
  });

  it('describes itself: version, resources, rule count', () => {
    assert.equal(set.version, 3);
    assert.deepEqual(set.resources(), ['Doc']);
    assert.equal(set.ruleCount(), 11);
  });
});

describe('deny overrides', () => {
  const allow = `  - id: owners-update\n    roles: [owner]\n    actions: [update]\n    effect: allow\n`;
  const deny = `  - id: frozen\n    roles: ["*"]\n    actions: ["*"]\n    effect: deny\n    when: { frozen: true }\n`;
  const wildcardAllow = `  - id: owners-anything\n    roles: [owner]\n    actions: ["*"]\n    effect: allow\n`;
  const orders = {
    'allow, then deny': [allow, deny],
    'deny, then allow': [deny, allow],
    'deny between two allows': [allow, deny, wildcardAllow],
    'deny last after a "*" allow': [wildcardAllow, allow, deny],
  };
  for (const [name, rules] of Object.entries(orders)) {
    it(`denies whatever the order of rules: ${name}`, () => {
      const s = compileSet({ 'x.yaml': `resource: Thing\nrules:\n${rules.join('')}` });
      const ask = (frozen: boolean) =>
        s.decide({
          subject: subject('u', ['owner']),
          action: 'update',
          resource: { type: 'Thing', attrs: { frozen } },
        });
      assert.deepEqual([ask(true).allow, ask(true).rule], [false, 'frozen']);
      assert.equal(ask(false).allow, true);
    });
  }
});
