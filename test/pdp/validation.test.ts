import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet, type PolicyProblem } from '../../src/pdp/index.ts';
import { problemsOf } from './policy-fixtures.ts';

const rule = (extra: string, head = 'roles: [clerk]\n    actions: [read]\n    effect: allow') =>
  `resource: Invoice\nrules:\n  - ${head}\n    ${extra}\n`;

interface Case {
  name: string;
  files: Record<string, string>;
  expect: Omit<Partial<PolicyProblem>, 'message'> & { message: RegExp };
}

const cases: Case[] = [
  {
    name: 'a YAML syntax error, with its line',
    files: { 'a.yaml': 'resource: Invoice\nrules:\n  - roles: [a\n    actions: [read]\n' },
    expect: { file: 'a.yaml', line: 4, message: /YAML syntax error/ },
  },
  {
    name: 'a duplicate YAML key',
    files: { 'a.yaml': 'resource: Invoice\nresource: Other\nrules: []\n' },
    expect: { file: 'a.yaml', line: 2, message: /unique/ },
  },
  {
    name: 'a missing required key',
    files: { 'a.yaml': 'resource: Invoice\nrules:\n  - roles: [a]\n    actions: [read]\n' },
    expect: { rule: 'Invoice#0', field: 'rules.0.effect', line: 3, message: /is required/ },
  },
  {
    name: 'an unknown key (a typo)',
    files: { 'a.yaml': rule('condition: { a: 1 }') },
    expect: { rule: 'Invoice#0', field: 'rules.0.condition', line: 6, message: /unknown key "condition"/ },
  },
  {
    name: 'an effect other than allow or deny',
    files: { 'a.yaml': rule('', 'roles: [a]\n    actions: [read]\n    effect: permit') },
    expect: { rule: 'Invoice#0', field: 'rules.0.effect', message: /allow.*deny/ },
  },
  {
    name: 'an empty role list',
    files: { 'a.yaml': rule('', 'id: nobody\n    roles: []\n    actions: [read]\n    effect: allow') },
    expect: { rule: 'nobody', field: 'rules.0.roles', line: 4, message: /at least one role/ },
  },
  {
    name: 'an empty action list',
    files: { 'a.yaml': rule('', 'roles: [a]\n    actions: []\n    effect: allow') },
    expect: { rule: 'Invoice#0', field: 'rules.0.actions', message: /at least one action/ },
  },
  {
    name: 'an unknown operator',
    files: { 'a.yaml': rule('when: { amount: { $gtt: 5 } }') },
    expect: {
      rule: 'Invoice#0',
      field: 'rules.0.when.amount.$gtt',
      line: 6,
      message: /unknown operator \$gtt/,
    },
  },
  {
    name: 'a code-running operator ($where)',
    files: { 'a.yaml': rule('when: { $where: "this.a == 1" }') },
    expect: { field: 'rules.0.when.$where', message: /unknown operator \$where/ },
  },
  {
    name: 'a regular expression operator ($regex)',
    files: { 'a.yaml': rule('when: { name: { $regex: "^(a+)+$" } }') },
    expect: { field: 'rules.0.when.name.$regex', message: /unknown operator \$regex/ },
  },
  {
    name: 'an unknown placeholder',
    files: { 'a.yaml': rule(`when: { owner: "\${subject.name}" }`) },
    expect: { field: 'rules.0.when.owner', message: /unknown placeholder "\$\{subject\.name\}"/ },
  },
  {
    name: 'a placeholder inside a longer string',
    files: { 'a.yaml': rule(`when: { path: "/users/\${subject.id}" }`) },
    expect: { field: 'rules.0.when.path', message: /whole value/ },
  },
  {
    name: 'a placeholder reaching for the prototype',
    files: { 'a.yaml': rule(`when: { a: "\${subject.attrs.__proto__.x}" }`) },
    expect: { field: 'rules.0.when.a', message: /__proto__/ },
  },
  {
    name: 'a condition on a prototype key',
    files: { 'a.yaml': rule('when: { constructor: 1 }') },
    expect: { field: 'rules.0.when.constructor', message: /"constructor" is not allowed/ },
  },
  {
    name: 'a list without an operator',
    files: { 'a.yaml': rule('when: { status: [a, b] }') },
    expect: { field: 'rules.0.when.status', message: /\$in/ },
  },
  {
    name: 'a nested document instead of a dotted path',
    files: { 'a.yaml': rule('when: { owner: { id: 1 } }') },
    expect: { field: 'rules.0.when.owner', message: /dotted path/ },
  },
  {
    name: 'an operand of the wrong type',
    files: { 'a.yaml': rule('when: { amount: { $gt: [1] } }') },
    expect: { field: 'rules.0.when.amount.$gt', message: /string or a number/ },
  },
  {
    name: 'a duplicate rule id across files',
    files: {
      'a.yaml': rule('', 'id: read\n    roles: [a]\n    actions: [read]\n    effect: allow'),
      'b.yaml': rule('', 'id: read\n    roles: [a]\n    actions: [read]\n    effect: allow').replace(
        'Invoice',
        'Project',
      ),
    },
    expect: {
      file: 'b.yaml',
      rule: 'read',
      field: 'rules.0.id',
      message: /duplicate rule id "read" \(also in a\.yaml\)/,
    },
  },
  {
    name: 'a resource type defined twice',
    files: { 'a.yaml': rule(''), 'b.yaml': rule('') },
    expect: { file: 'b.yaml', field: 'resource', line: 1, message: /already defined in a\.yaml/ },
  },
  {
    name: 'a route with an unknown method',
    files: { 'a.yaml': `${rule('')}routes:\n  - match: FETCH /invoices\n    action: read\n` },
    expect: { field: 'routes.0.match', message: /unknown method "FETCH"/ },
  },
  {
    name: 'a route referring to a parameter its path lacks',
    files: {
      'a.yaml': `${rule('')}routes:\n  - match: GET /invoices/:id\n    action: read\n    resource: { id: ":invoice" }\n`,
    },
    expect: { field: 'routes.0.resource.id', message: /":invoice" is not a parameter/ },
  },
  {
    name: 'a route with a repeated parameter',
    files: { 'a.yaml': `${rule('')}routes:\n  - match: GET /a/:id/b/:id\n    action: read\n` },
    expect: { field: 'routes.0.match', message: /appears twice/ },
  },
  {
    name: 'a route that is not "<METHOD> <path>"',
    files: { 'a.yaml': `${rule('')}routes:\n  - match: /invoices\n    action: read\n` },
    expect: { field: 'routes.0.match', message: /<METHOD> <path>/ },
  },
  {
    name: 'a test case about an unknown resource type',
    files: {
      'a.yaml': rule(''),
      'a.test.yaml':
        'cases:\n  - name: x\n    subject: { id: u }\n    action: read\n    resource: { type: Nope }\n    expect: deny\n',
    },
    expect: {
      file: 'a.test.yaml',
      field: 'cases.0.resource.type',
      line: 5,
      message: /unknown resource type "Nope"/,
    },
  },
];

describe('policy validation', () => {
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const problems = problemsOf(c.files);
      const { message, ...where } = c.expect;
      const found = problems.find(
        (p) =>
          message.test(p.message) &&
          Object.entries(where).every(([k, v]) => p[k as keyof PolicyProblem] === v),
      );
      assert.ok(
        found,
        `no problem like ${JSON.stringify({ ...where, message: String(message) })} in\n${JSON.stringify(problems, null, 2)}`,
      );
      assert.equal(found.file, c.expect.file ?? 'a.yaml');
    });
  }

  it('reports every problem of every file at once, sorted by file then position', () => {
    const problems = problemsOf({
      'z.yaml': rule('when: { amount: { $gtt: 5 } }').replace('Invoice', 'Project'),
      'a.yaml': [
        'resource: Invoice',
        'rules:',
        '  - id: first',
        '    roles: []',
        '    actions: [read]',
        '    effect: allow',
        `    when: { owner: "\${subject.nope}" }`,
        '  - id: second',
        '    roles: [a]',
        '    actions: []',
        '    effect: maybe',
        '    when: { $where: "1" }',
      ].join('\n'),
      'm.yaml': 'resource: [',
    });
    const summary = problems.map((p) => [p.file, p.rule, p.field, p.line]);
    assert.deepEqual(summary, [
      ['a.yaml', 'first', 'rules.0.roles', 4],
      ['a.yaml', 'first', 'rules.0.when.owner', 7],
      ['a.yaml', 'second', 'rules.1.actions', 10],
      ['a.yaml', 'second', 'rules.1.effect', 11],
      ['a.yaml', 'second', 'rules.1.when.$where', 12],
      ['m.yaml', undefined, undefined, 1],
      ['z.yaml', 'Project#0', 'rules.0.when.amount.$gtt', 6],
    ]);
    assert.ok(problems.every((p) => p.message.length > 0));
  });

  it('accepts an empty set, which knows no resource type', () => {
    const result = compilePolicySet([], 0);
    assert.ok(result.ok);
    assert.deepEqual([result.set.resources(), result.tests], [[], []]);
  });

  it('ignores files that are not YAML', () => {
    const result = compilePolicySet([{ name: 'schema.json', content: '{' }], 0);
    assert.ok(result.ok);
  });

  it('accepts every allowed operator', () => {
    const ok = problemsOf({
      'a.yaml': rule(
        'when: { a: { $eq: 1, $ne: null }, b: { $gt: 1, $gte: "a", $lt: 2, $lte: 3 }, c: { $in: [1, null], $nin: [] }, ' +
          `d: { $all: ["\${subject.id}"], $size: 2 }, e: { $exists: false }, $or: [{ f: 1 }, { g: "\${context.x}" }], ` +
          `$and: [{ h: true }], $nor: [{ i: "\${subject.attrs.a.b}" }] }`,
      ),
      'broken.yaml': 'resource: [',
    });
    // The broken file makes the set invalid, so the problems of the other file can be inspected.
    assert.deepEqual([...new Set(ok.map((p) => p.file))], ['broken.yaml']);
  });
});
