import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../../src/audit/index.ts';
import { runTollgate } from '../helpers/cli.ts';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

interface Page {
  events: AuditRecord[];
  next_after: number | null;
  next_before: number | null;
}

const label = (e: AuditRecord) => (e.index === undefined ? String(e.seq) : `${e.seq}.${e.index}`);

describe('audit query pages forward and back', () => {
  let tg: TestInstance;
  /** Every event in chain order, as SEQ or SEQ.INDEX. */
  let chain: string[];
  /** The row holding three decisions. */
  let packed: number;
  /** A seq past the chain above: each admin call adds rows (its token), so newest-first walks start here. */
  let end: number;
  const cli = (args: string[]) => runTollgate(['audit', 'query', ...args], { DATA_DIR: tg.dataDir });
  const page = async (query: string): Promise<Page> => {
    const response = await tg.admin$('GET', `/audit?${query}`);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as Page;
  };

  before(async () => {
    tg = await startTestInstance({ AUDIT_FLUSH_MS: '20' });
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const created = await tg.admin$('POST', '/apis', {
        audience: `https://${name}.example`,
        scopes: ['x'],
      });
      assert.equal(created.status, 201);
    }
    const { created: caller } = await createMachineClient(tg, {
      name: 'pager',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    const token = (
      (await (await requestToken(tg.url, caller, { scope: 'decide' })).json()) as {
        access_token: string;
      }
    ).access_token;
    const decided = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u-pager', roles: ['accountant'], attrs: { tenant: 'acme' } },
        checks: ['p-1', 'p-2', 'p-3'].map((id) => ({
          action: 'read',
          resource: { type: 'Invoice', id, attrs: { tenant: 'acme', status: 'draft' } },
        })),
      }),
    });
    assert.equal(decided.status, 200);
    // The batch is one row once written; then one more row after it (another admin change).
    const deadline = Date.now() + 10_000;
    let decisions: AuditRecord[] = [];
    while (decisions.length < 3 && Date.now() < deadline) {
      decisions = (await page('type=decision&subject=u-pager')).events;
      if (decisions.length < 3) await new Promise((done) => setTimeout(done, 50));
    }
    assert.equal(decisions.length, 3);
    packed = decisions[0]?.seq as number;
    assert.equal(
      (await tg.admin$('POST', '/apis', { audience: 'https://f.example', scopes: ['x'] })).status,
      201,
    );
    const all = await page('limit=1000');
    chain = all.events.map(label);
    end = (all.events.at(-1)?.seq as number) + 1;
    assert.ok(chain.includes(`${packed}.2`));
  });
  after(() => tg.close());

  it('keeps chain order, next_after and its paging by default', async () => {
    const first = await page('limit=2');
    assert.deepEqual(first.events.map(label), chain.slice(0, 2));
    assert.equal(first.next_after, first.events[1]?.seq);
    assert.equal(first.next_before, null);
    const second = await page(`limit=2&after=${first.next_after}`);
    assert.deepEqual(second.events.map(label), chain.slice(2, 4));
  });

  it('walks the whole log newest first with before and next_before, a packed row last decision first', async () => {
    const seen: string[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const result: Page = await page(`order=desc&limit=2&before=${cursor ?? end}`);
      seen.push(...result.events.map(label));
      assert.equal(result.next_after, null);
      cursor = result.next_before;
      pages += 1;
    } while (cursor !== null && pages < 100);
    assert.deepEqual(seen, [...chain].reverse());
  });

  it('takes after and before together as a range', async () => {
    const result = await page(`after=1&before=4`);
    assert.deepEqual([...new Set(result.events.map((e) => e.seq))], [2, 3]);
  });

  it('answers malformed cursors and orders with 400 naming the field', async () => {
    for (const [query, field] of [
      ['before=abc', 'before'],
      ['before=0x10', 'before'],
      ['before=-1', 'before'],
      ['before=1e3', 'before'],
      ['before=', 'before'],
      ['before=1&before=2', 'before'],
      ['before=9999999999999999', 'before'],
      ['after=0x10', 'after'],
      ['order=sideways', 'order'],
      ['order=DESC', 'order'],
      ['sort=desc', ''],
    ] as const) {
      const response = await tg.admin$('GET', `/audit?${query}`);
      assert.equal(response.status, 400, query);
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_request', query);
      if (field) assert.match(body.error_description, new RegExp(`^${field}: `), query);
    }
  });

  it('lists newest first and follows its own "(more: …)" hint back to the start', async () => {
    const seen: string[] = [];
    const newest = await cli(['--limit', '1']);
    assert.equal(newest.code, 0, newest.stderr);
    // The newest row: one event, or the tokens of the admin calls just made sharing one row,
    // which comes whole (SEQ.2, SEQ.1, SEQ.0) although it is larger than the limit.
    assert.match(
      newest.stdout,
      /^SEQ\s+TIME.*\n(?:\d+\s.*\n|(?:(\d+)\.\d+\s.*\n)(?:\1\.\d+\s.*\n)*)\(more: --before \d+\)\n$/,
    );
    let args = ['--limit', '3', '--before', String(end)];
    for (let pages = 0; pages < 100; pages++) {
      const run = await cli(args);
      assert.equal(run.code, 0, run.stderr);
      if (run.stdout === 'No audit events match.\n') break;
      const lines = run.stdout.trim().split('\n');
      assert.match(lines[0] ?? '', /^SEQ\s+TIME/);
      const more = /^\(more: (--before) (\d+)\)$/.exec(lines.at(-1) ?? '');
      seen.push(...lines.slice(1, more ? -1 : undefined).map((line) => line.split(/\s+/)[0] as string));
      if (!more) break;
      args = ['--limit', '3', more[1] as string, more[2] as string];
    }
    assert.deepEqual(seen, [...chain].reverse());
  });

  it('pages forward oldest first with --after, and names --after in its hint', async () => {
    const run = await cli(['--after', '0', '--limit', '2']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.deepEqual(
      lines.slice(1, -1).map((line) => line.split(/\s+/)[0]),
      chain.slice(0, 2),
    );
    assert.match(lines.at(-1) ?? '', /^\(more: --after \d+\)$/);
    const json = JSON.parse(
      (await cli(['--after', String(packed - 1), '--limit', '1', '--json'])).stdout,
    ) as Page;
    assert.deepEqual(
      json.events.map(label),
      [`${packed}.0`, `${packed}.1`, `${packed}.2`],
      'a packed row comes whole',
    );
    assert.equal(json.next_after, packed);
  });

  it('takes SEQ.INDEX as a cursor including its whole row, and refuses other spellings', async () => {
    const before = JSON.parse(
      (await cli(['--before', `${packed}.1`, '--limit', '1', '--json'])).stdout,
    ) as Page;
    assert.deepEqual(before.events.map(label), [`${packed}.2`, `${packed}.1`, `${packed}.0`]);
    const afterRun = JSON.parse(
      (await cli(['--after', `${packed}.1`, '--limit', '1', '--json'])).stdout,
    ) as Page;
    assert.deepEqual(afterRun.events.map(label), [`${packed}.0`, `${packed}.1`, `${packed}.2`]);
    for (const value of ['abc', '-1', '0x10', '1.2.3', '']) {
      const run = await cli([`--before=${value}`]);
      assert.equal(run.code, 2, value);
      assert.match(run.stderr, /^tollgate: --before .*: expected a seq/);
    }
  });
});
