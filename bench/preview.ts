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
import { parseArgs } from 'node:util';
import { previewChange } from '../src/pdp/index.ts';
import { previewWorkload } from './lib/preview-workload.ts';

const TARGET_PER_SECOND = 100_000;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const { values: flags } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

const { current, candidate, request } = previewWorkload();
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
