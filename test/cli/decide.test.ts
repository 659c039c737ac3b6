import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compilePolicySet } from '../../src/pdp/index.ts';
import { runTollgate } from '../helpers/cli.ts';
import { shippedPolicyFiles } from '../pdp/policy-fixtures.ts';

const SHIPPED = resolve(import.meta.dirname, '../../policies');
const accountant = { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const ownInvoice = {
  type: 'Invoice',
  id: 'i2',
  attrs: { tenant: 'acme', amount: 20_000, status: 'sent', createdBy: 'a1' },
};

describe('tollgate decide explain', () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-explain-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const explain = (args: string[]) => runTollgate(['decide', 'explain', '--dir', SHIPPED, ...args], {});

  it('shows the decision, the deciding rule and the failed condition with its resolved placeholder', async () => {
    const run = await explain([
      '--subject',
      JSON.stringify(accountant),
      '--action',
      'approve',
      '--resource',
      JSON.stringify(ownInvoice),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'DENY  reason: nobody approves an invoice they created  rule: four-eyes');
    assert.ok(lines.includes('=> four-eyes  deny  matched'), run.stdout);
    assert.ok(lines.includes('       amount $lte 10000: resource has 20000 → NO'), run.stdout);
    assert.ok(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
      lines.includes('       tenant $eq "acme" (${subject.attrs.tenant}): resource has "acme" → yes'),
      run.stdout,
    );
    assert.match(run.stdout, /^not considered \(roles the subject lacks\): read-own \(customer\)/m);
  });

  it('prints with --json what the engine decides and explains, reading its inputs from files', async () => {
    const subjectFile = join(work, 'subject.json');
    const resourceFile = join(work, 'resource.json');
    const contextFile = join(work, 'context.json');
    const auditor = { id: 'au', roles: ['auditor'], attrs: { tenant: 'acme' } };
    const project = { type: 'Project', id: 'p1', attrs: { tenant: 'acme', region: 'us' } };
    writeFileSync(subjectFile, JSON.stringify(auditor));
    writeFileSync(resourceFile, JSON.stringify(project));
    writeFileSync(contextFile, JSON.stringify({ region: 'eu' }));
    const run = await explain([
      '--subject',
      subjectFile,
      '--action',
      'read',
      '--resource',
      resourceFile,
      '--context',
      contextFile,
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const compiled = compilePolicySet(shippedPolicyFiles(), 0);
    assert.ok(compiled.ok);
    const request = { subject: auditor, action: 'read', resource: project, context: { region: 'eu' } };
    assert.deepEqual(JSON.parse(run.stdout), {
      decision: compiled.set.decide(request),
      explanation: compiled.set.explain(request),
    });
    const region = JSON.parse(run.stdout).explanation.rules.find(
      (rule: { rule: string }) => rule.rule === 'auditors-read-in-their-region',
    );
    assert.equal(region.outcome, 'not_matched');
    assert.deepEqual(region.conditions.of[1], {
      attribute: 'region',
      operator: '$eq',
      expected: 'eu',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
      placeholder: '${context.region}',
      actual: 'us',
      holds: false,
    });
  });

  it('refuses what /decide would refuse, naming the field, and a subject token it cannot verify', async () => {
    const base = ['--action', 'read', '--resource', JSON.stringify(ownInvoice)];
    const cases: [string[], RegExp][] = [
      [['--subject', '{"id":"a1","roles":"accountant"}', ...base], /subject\.roles: /],
      [['--subject', '{"token":"eyJ…"}', ...base], /--subject: .*verified by the server only/],
      [['--subject', '{not json', ...base], /--subject: not valid JSON/],
      [
        ['--subject', JSON.stringify(accountant), '--resource', JSON.stringify(ownInvoice)],
        /--action is required/,
      ],
      [['--subject', JSON.stringify({ ...accountant, admin: true }), ...base], /unknown field admin/],
    ];
    for (const [args, message] of cases) {
      const run = await explain(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
    const unknownType = await explain([
      '--subject',
      JSON.stringify(accountant),
      '--action',
      'read',
      '--resource',
      '{"type":"Payroll"}',
    ]);
    assert.equal(unknownType.code, 1);
    assert.match(unknownType.stderr, /resource\.type: no policy for resource type Payroll/);
    const missingFile = await explain(['--subject', join(work, 'nope.json'), ...base]);
    assert.equal(missingFile.code, 1);
    assert.match(missingFile.stderr, /--subject: cannot read .*nope\.json \(ENOENT\)/);
  });
});
