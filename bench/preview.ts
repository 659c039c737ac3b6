/**
 * In-process benchmark of policy impact preview's replay (not part of `npm test`):
 *
 *   node bench/preview.ts [--json]
 *
 * Replays BENCH_DECISIONS (default 100,000) requests, shaped like the decision log of the demo
 * policies (./policies: Invoice and Project; seven kinds of subject, every action, with and
 * without a field or a region), against the shipped set and a candidate that narrows one rule
 * (accountants lose `update`), with `previewChange` (src/pdp/preview.ts), on one core. Each
 * request is decided twice (current and candidate). Prints decisions replayed per second, the
 * median of BENCH_ROUNDS (5) rounds after one warm-up, against the target ≥ 100,000/s (issue 13),
 * and the flips found. Exits 1 below the target.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compilePolicySet, type DecisionRequest, type PolicyFile, previewChange } from '../src/pdp/index.ts';
import { seededRandom } from './lib/random.ts';

const TARGET_PER_SECOND = 100_000;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const { values: flags } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

const dir = resolve(import.meta.dirname, '../policies');
const shipped: PolicyFile[] = readdirSync(dir)
  .filter((name) => name.endsWith('.yaml') && !name.endsWith('.test.yaml'))
  .map((name) => ({ name, content: readFileSync(join(dir, name), 'utf8') }));
const narrowed = shipped.map((file) =>
  file.name === 'invoice.yaml'
    ? { ...file, content: file.content.replace('actions: [read, create, update]', 'actions: [read, create]') }
    : file,
);
if (narrowed.every((file, i) => file.content === shipped[i]?.content))
  throw new Error('the candidate did not change: policies/invoice.yaml no longer has the rule narrowed here');
const compile = (files: PolicyFile[], version: number) => {
  const result = compilePolicySet(files, version);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.set;
};
const current = compile(shipped, 1);
const candidate = compile(narrowed, 2);

const { random, pick } = seededRandom();

const TENANTS = ['acme', 'globex', 'initech'];
const ROLES = [['customer'], ['accountant'], ['finance-manager'], ['admin'], ['auditor'], ['contractor'], []];
const ACTIONS = ['read', 'create', 'update', 'delete', 'approve', 'comment'];
// A population of users, each with their own roles and tenant, as a decision log records them.
const SUBJECTS = Array.from({ length: Number(process.env.BENCH_SUBJECTS ?? 2_000) }, (_, i) => ({
  id: `u${i}`,
  roles: pick(ROLES),
  attrs: { tenant: pick(TENANTS) },
}));
function request(): DecisionRequest {
  const tenant = pick(TENANTS);
  const subject = pick(SUBJECTS);
  const invoice = random() < 0.6;
  const resource = invoice
    ? {
        type: 'Invoice',
        id: `inv_${Math.floor(random() * 10_000)}`,
        attrs: {
          tenant,
          ownerId: subject.id,
          status: pick(['draft', 'sent', 'paid']),
          amount: Math.floor(random() * 20_000),
          createdBy: pick(SUBJECTS).id,
        },
      }
    : {
        type: 'Project',
        id: `p_${Math.floor(random() * 1_000)}`,
        attrs: {
          tenant,
          members: [subject.id],
          archived: random() < 0.2,
          visibility: pick(['public', 'private']),
        },
      };
  return {
    subject,
    action: pick(ACTIONS),
    resource,
    ...(invoice && random() < 0.2 ? { field: pick(['amount', 'internalNotes']) } : {}),
    ...(random() < 0.5 ? { context: { region: pick(['eu', 'us']) } } : {}),
  };
}
const requests = Array.from({ length: DECISIONS }, request);

previewChange(current, candidate, requests); // warm-up: JIT and the ability caches
const rates: number[] = [];
let report = previewChange(current, candidate, []);
for (let round = 0; round < ROUNDS; round++) {
  const started = process.hrtime.bigint();
  report = previewChange(current, candidate, requests);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rates.push(DECISIONS / seconds);
}
const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
const met = median >= TARGET_PER_SECOND;
const result = {
  decisions: DECISIONS,
  rounds: rates.map(Math.round),
  median_per_second: Math.round(median),
  target_per_second: TARGET_PER_SECOND,
  met,
  flipped: report.flipped,
  groups: report.flips.map(({ examples: _, ...group }) => group),
};
if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else
  process.stdout.write(
    `policy impact preview: ${DECISIONS.toLocaleString('en')} recorded decisions replayed against the current and a candidate set, one core, ${ROUNDS} rounds\n` +
      `replayed per second (median)   ${Math.round(median).toLocaleString('en')}   target ≥ ${TARGET_PER_SECOND.toLocaleString('en')}: ${met ? 'MET' : 'NOT MET'}\n` +
      `each round                     ${rates.map((rate) => Math.round(rate).toLocaleString('en')).join(' / ')}\n` +
      `flips found                    ${report.flipped.toLocaleString('en')} in ${report.flips.length} group(s): ${report.flips
        .map(
          (g) =>
            `${g.resource} ${g.from_rule ?? 'default deny'} → ${g.to_rule ?? 'default deny'} (${g.change}) ×${g.count}`,
        )
        .join('; ')}\n`,
  );
process.exitCode = met ? 0 : 1;
