import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTollgate } from '../helpers/cli.ts';

const SHIPPED = resolve(import.meta.dirname, '../../policies');
const accountant = { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const invoice = { type: 'Invoice', id: 'i1', attrs: { tenant: 'acme', status: 'sent' } };

describe('tollgate policy preview', () => {
  let work: string;
  let candidate: string;
  let requests: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-preview-'));
    // The candidate takes `update` from accountants.
    candidate = join(work, 'candidate');
    cpSync(SHIPPED, candidate, { recursive: true });
    const file = join(candidate, 'invoice.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('actions: [read, create, update]', 'actions: [read, create]'),
    );
    // Its own tests would now fail; preview compares sets, it does not run their tests.
    requests = join(work, 'requests.jsonl');
    const lines = [
      ...Array(4).fill({ subject: accountant, action: 'update', resource: invoice }),
      ...Array(6).fill({ subject: accountant, action: 'read', resource: invoice }),
    ];
    writeFileSync(requests, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const preview = (args: string[]) =>
    runTollgate(
      ['policy', 'preview', '--current', SHIPPED, '--dir', candidate, '--requests', requests, ...args],
      {},
    );

  it('groups the decisions the candidate flips, with examples', async () => {
    const run = await preview([]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], '10 requests replayed: 4 would flip, 0 keep their answer by another rule');
    assert.equal(
      lines[1],
      '  4  Invoice  allow→deny  accountant-works-on-tenant-invoices → no_matching_rule',
    );
    assert.match(lines[2] ?? '', /^ {6}e\.g\. \{"subject":\{"id":"a1"/);
    const json = JSON.parse((await preview(['--json', '--examples', '1'])).stdout);
    assert.equal(json.flipped, 4);
    assert.equal(json.flips[0].examples.length, 1);
  });

  it('is a gate with --max-flips: exit 1 above it, 0 at it, and an identical set flips nothing', async () => {
    const over = await preview(['--max-flips', '3', '--json']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /4 flips, more than --max-flips 3/);
    assert.equal(JSON.parse(over.stdout).flipped, 4, '--json prints the report on failure too');
    assert.equal((await preview(['--max-flips', '4'])).code, 0);
    const same = await runTollgate(
      [
        'policy',
        'preview',
        '--current',
        SHIPPED,
        '--dir',
        SHIPPED,
        '--requests',
        requests,
        '--max-flips',
        '0',
      ],
      {},
    );
    assert.equal(same.code, 0, same.stderr);
  });

  it('refuses a bad workload line as /decide would, naming the line and the field', async () => {
    const bad = join(work, 'bad.jsonl');
    for (const [content, message] of [
      [
        `${JSON.stringify({ subject: accountant, action: 'read', resource: invoice })}\n{"subject":{"id":"x"},"action":""}`,
        /--requests: line 2: action: /,
      ],
      ['{not json', /--requests: line 1 is not valid JSON/],
      [
        JSON.stringify({ subject: { token: 'eyJ' }, action: 'read', resource: invoice }),
        /--requests: line 1: subject: .*verified by the server only/,
      ],
    ] as const) {
      writeFileSync(bad, content);
      const run = await runTollgate(['policy', 'preview', '--current', SHIPPED, '--requests', bad], {});
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
    }
    assert.equal((await preview(['--max-flips', 'many'])).code, 2);
  });
});
