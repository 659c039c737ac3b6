import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTollgate } from '../helpers/cli.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { INVOICE_POLICY } from '../helpers/policies.ts';
import {
  appendUnreadableRow,
  EXPECTED_FLIPS,
  EXPENSE_POLICY,
  groups,
  NARROWED_INVOICE_POLICY,
  type PreviewReport,
  RECORDED,
  recordWorkload,
} from '../helpers/recorded-decisions.ts';

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

describe('tollgate policy preview and policy push --preview over the decision log', () => {
  let tg: TestInstance;
  let work: string;
  let current: string;
  let candidate: string;
  /** The version in force once the current set is pushed. */
  let version: number;
  const cli = (args: string[]) => runTollgate(args, { DATA_DIR: tg.dataDir });
  const preview = (args: string[]) => cli(['policy', 'preview', '--dir', candidate, ...args]);
  const pushPreview = (dir: string, args: string[]) =>
    cli(['policy', 'push', '--dir', dir, '--preview', ...args]);
  const previewJson = async (args: string[]) => {
    const run = await preview([...args, '--json']);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as PreviewReport;
  };
  const stored = async () =>
    (
      (await (await tg.admin$('GET', '/policies')).json()) as {
        versions: { version: number; current: boolean }[];
      }
    ).versions;

  function policyDir(name: string, files: Record<string, string>): string {
    const dir = join(work, name);
    mkdirSync(dir);
    for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
    return dir;
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-log-preview-'));
    current = policyDir('current', { 'expense.yaml': EXPENSE_POLICY, 'invoice.yaml': INVOICE_POLICY });
    candidate = policyDir('candidate', {
      'expense.yaml': EXPENSE_POLICY,
      'invoice.yaml': NARROWED_INVOICE_POLICY,
    });
    // Hashed inputs: the Expense decisions cannot be replayed, and the output must say why.
    tg = await startTestInstance({ DECISION_LOG_INPUTS: 'hashed', AUDIT_FLUSH_MS: '20' });
    const pushed = await cli(['policy', 'push', '--dir', current, '--json']);
    assert.equal(pushed.code, 0, pushed.stderr);
    version = (JSON.parse(pushed.stdout) as { version: number }).version;

    await recordWorkload(tg, { acme: 'acme', globex: 'globex' });
  });
  after(async () => {
    await tg.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('says what it read and why some was not replayed, then groups the flips', async () => {
    const run = await preview([]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(
      lines[0],
      `Read 40 recorded decisions (policy version ${version} in force); replayed 36 (36 from hashed inputs); not replayed: 1 recorded without inputs (DECISION_LOG_INPUTS=off or a refused subject token), 3 hashed about Expense, whose rule small-expenses orders values`,
    );
    assert.equal(lines[1], '36 requests replayed: 4 would flip, 0 keep their answer by another rule');
    assert.equal(lines[2], '  2  Invoice  deny→allow  no_matching_rule → viewers-read');
    assert.match(lines[3] ?? '', /^ {6}e\.g\. \{"subject":\{"id":"cid".*"action":"read"/);
    assert.match(lines[4] ?? '', /^ {6}e\.g\. /);
    assert.equal(lines[5], '  2  Invoice  allow→deny  read-own-tenant → no_matching_rule');
    assert.equal(lines.length, 8);

    const report = await previewJson(['--examples', '1']);
    assert.equal(report.current_version, version);
    assert.deepEqual(report.window, { since: null, until: null, limit: 100_000 });
    assert.deepEqual([report.read, report.replayed, report.flipped], [RECORDED, 36, 4]);
    assert.deepEqual(report.skipped, { no_inputs: 1, other_key: 0, ordered: { Expense: 3 }, unreadable: 0 });
    assert.deepEqual(groups(report), EXPECTED_FLIPS);
    assert.deepEqual(
      report.flips.map((group) => group.examples.length),
      [1, 1],
    );
  });

  it('is a gate with --max-flips: exit 1 above it with the report, 0 at it and for the set in force', async () => {
    const over = await preview(['--max-flips', '3']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /Read 40 recorded decisions/);
    assert.match(over.stderr, /4 flips, more than --max-flips 3\n/);
    const overJson = await preview(['--max-flips', '3', '--json']);
    assert.equal(overJson.code, 1);
    assert.equal(
      (JSON.parse(overJson.stdout) as PreviewReport).flipped,
      4,
      '--json prints the report on failure too',
    );
    assert.equal((await preview(['--max-flips', '4'])).code, 0);
    const same = await cli(['policy', 'preview', '--dir', current, '--max-flips', '0']);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^36 requests replayed: 0 would flip/m);
  });

  it('reads the window asked for: --since as a duration or a date-time, --until, --limit', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await preview(['--since', future]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, new RegExp(`^Read 0 recorded decisions since ${future} \\(policy version`));
    assert.match(none.stdout, /^0 requests replayed: 0 would flip/m);

    const hour = await previewJson(['--since', '1h']);
    assert.equal(hour.read, RECORDED);
    const since = Date.parse(hour.window.since ?? '');
    assert.ok(Math.abs(since - (Date.now() - 3_600_000)) < 60_000, hour.window.since ?? 'no since');
    assert.equal((await previewJson(['--since', '1m'])).read, RECORDED);
    assert.equal((await previewJson(['--since', '2d', '--until', '2000-01-01T00:00:00Z'])).read, 0);

    const offset = await previewJson(['--since', '2000-01-01T00:00:00+02:00']);
    assert.equal(offset.window.since, '1999-12-31T22:00:00.000Z', 'sent as the server reads it');
    assert.equal(offset.read, RECORDED);

    const newest = await preview(['--limit', '1']);
    assert.match(newest.stdout, /^Read 1 recorded decision \(.*; not replayed: 1 recorded without inputs/);
    assert.match(newest.stdout, /^Stopped at --limit 1: older decisions/m);
  });

  it('refuses bad values and mixed modes as usage errors naming the option, before any request', async () => {
    const requests = join(work, 'requests.jsonl');
    writeFileSync(requests, '');
    for (const [args, message] of [
      [['--since', 'yesterday'], /--since yesterday: expected an ISO 8601 date-time/],
      [['--since', '2026-11-23'], /--since 2026-11-23: /],
      [['--since', '2026-11-23T10:00:00'], /--since .*with offset/],
      [['--until', '24h'], /--until 24h: /],
      [['--limit', '0'], /--limit must be from 1 to 500000/],
      [['--limit', '500001'], /--limit must be from 1 to 500000/],
      [['--limit', 'many'], /--limit must be a whole number/],
      [['--examples', '21'], /--examples must be from 0 to 20/],
      [['--max-flips', '-1'], /--max-flips/],
      [['--current', current], /--current goes with --requests/],
      [
        ['--requests', requests, '--current', current, '--since', '1h'],
        /--since reads the decision log; it cannot go with --requests/,
      ],
      [['--requests', requests, '--current', current, '--limit', '10'], /--limit .*--requests/],
    ] as const) {
      const run = await preview([...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
      assert.match(run.stderr, /Usage: tollgate policy preview /);
    }
    const push = await cli(['policy', 'push', '--dir', candidate, '--max-flips', '0']);
    assert.equal(push.code, 2);
    assert.match(push.stderr, /--max-flips goes with --preview/);
    const pushSince = await cli(['policy', 'push', '--dir', candidate, '--preview', '--since', 'soon']);
    assert.equal(pushSince.code, 2);
    assert.match(pushSince.stderr, /--since soon: /);
    assert.equal((await stored())[0]?.version, version, 'nothing was pushed');
  });

  it('validates the candidate and runs its tests before asking the server', async () => {
    const failing = policyDir('failing', {
      'expense.yaml': EXPENSE_POLICY,
      'invoice.yaml': NARROWED_INVOICE_POLICY,
      'invoice.test.yaml': `cases:
  - name: accountants update
    subject: { id: a, roles: [accountant], attrs: { tenant: t } }
    action: update
    resource: { type: Invoice, attrs: { tenant: t, status: open } }
    expect: allow
`,
    });
    const run = await cli(['policy', 'preview', '--dir', failing]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /0 passed, 1 failed/);
    assert.doesNotMatch(run.stderr, /Read \d+ recorded/);
  });

  it('push --preview refuses a set that flips more than --max-flips, and stores one that does not', async () => {
    const refused = await cli(['policy', 'push', '--dir', candidate, '--preview', '--max-flips', '0']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^2 {2}Invoice {2}allow→deny {2}read-own-tenant → no_matching_rule$/m);
    assert.match(refused.stderr, /4 flips, more than --max-flips 0; nothing pushed\n/);
    const refusedJson = await pushPreview(candidate, ['--max-flips', '3', '--json']);
    assert.equal(refusedJson.code, 1);
    assert.equal((JSON.parse(refusedJson.stdout) as PreviewReport).flipped, 4);
    let versions = await stored();
    assert.equal(versions[0]?.version, version, 'nothing was stored');
    assert.equal(versions.find((v) => v.current)?.version, version);

    // The set in force flips nothing: it passes --max-flips 0 and is stored again.
    const same = await cli(['policy', 'push', '--dir', current, '--preview', '--max-flips', '0']);
    assert.equal(same.code, 0, same.stderr);
    const lines = same.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      new RegExp(`^Read 40 recorded decisions \\(policy version ${version} in force\\)`),
    );
    assert.equal(lines[1], '36 requests replayed: 0 would flip, 0 keep their answer by another rule');
    assert.match(
      lines.at(-1) ?? '',
      new RegExp(`^Policy version ${version + 1} stored \\(Expense, Invoice\\)`),
    );

    const pushed = await pushPreview(candidate, ['--max-flips', '4', '--limit', '100', '--json']);
    assert.equal(pushed.code, 0, pushed.stderr);
    const result = JSON.parse(pushed.stdout) as {
      version: number;
      resources: string[];
      preview: PreviewReport;
    };
    assert.equal(result.version, version + 2);
    assert.deepEqual(result.resources, ['Expense', 'Invoice']);
    assert.equal(result.preview.current_version, version + 1);
    assert.equal(result.preview.window.limit, 100);
    assert.deepEqual(groups(result.preview), EXPECTED_FLIPS);
    versions = await stored();
    assert.equal(versions.find((v) => v.current)?.version, version + 2);
  });
  // Last: it spoils the log for any test after it.
  it('says how many decisions sat in log rows it could not read', async () => {
    await appendUnreadableRow(tg, 7);
    const { read, skipped } = await previewJson([]);
    assert.equal(read, RECORDED);
    assert.equal(skipped.unreadable, 7);
    const run = await preview([]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(
        `^Read ${read} recorded decisions \\(.*\\); replayed \\d+ \\(\\d+ from hashed inputs\\); not replayed: 7 in log rows that could not be read \\(missing or edited; tollgate audit verify names them\\)`,
      ),
    );
  });
});
