import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { AuditCheckpoint, ChainVerdict, CheckpointResult } from '../../audit/index.ts';
import type { AdminApi } from '../admin-client.ts';
import { optionalString } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { CHECKPOINT_FIELD } from '../wire.ts';

/** What the server checks per request (its CHECKPOINT_BATCH). */
const BATCH = 200;
/** Problems listed in full; the rest are counted. */
const SHOWN = 20;
const STDIN_NAME = 'standard input';

interface FoundCheckpoint {
  line: number;
  checkpoint: AuditCheckpoint;
}

interface CheckpointReport {
  file: string;
  checked: number;
  failed: number;
  latest: (AuditCheckpoint & { line: number }) | null;
  problems: { line: number; seq: number; at: string; problem: string }[];
}

/**
 * The checkpoints in a log file of JSON lines (the service's own log, or an export of it from
 * ELK or Loki): every line whose object carries `audit_checkpoint`. Other lines are skipped.
 */
async function readCheckpoints(path: string, stdin: () => NodeJS.ReadableStream): Promise<FoundCheckpoint[]> {
  const found: FoundCheckpoint[] = [];
  const stream = path === '-' ? stdin() : await openFile(path);
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line += 1;
    if (!text.includes(CHECKPOINT_FIELD)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    const checkpoint = (parsed as Record<string, unknown> | null)?.[CHECKPOINT_FIELD];
    if (checkpoint && typeof checkpoint === 'object') {
      const { seq, hash, at, kid, mac } = checkpoint as AuditCheckpoint;
      found.push({ line, checkpoint: { seq, hash, at, kid, mac } });
    }
  }
  return found;
}

async function openFile(path: string): Promise<NodeJS.ReadableStream> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (error) {
    throw failure(`cannot read ${path}: ${(error as Error).message}`);
  }
  return stream;
}

async function checkFile(
  admin: AdminApi,
  path: string,
  stdin: () => NodeJS.ReadableStream,
): Promise<CheckpointReport> {
  const found = await readCheckpoints(path, stdin);
  if (found.length === 0)
    throw failure(`${path} holds no audit checkpoints (log lines with "${CHECKPOINT_FIELD}")`);
  const report: CheckpointReport = {
    file: path === '-' ? STDIN_NAME : path,
    checked: 0,
    failed: 0,
    latest: null,
    problems: [],
  };
  for (let start = 0; start < found.length; start += BATCH) {
    const batch = found.slice(start, start + BATCH);
    const { results } = (await admin.request('POST', '/audit/checkpoints', {
      checkpoints: batch.map((f) => f.checkpoint),
    })) as { results: CheckpointResult[] };
    results.forEach((result, i) => {
      const { line, checkpoint } = batch[i] as FoundCheckpoint;
      report.checked += 1;
      if (result.ok) {
        if (!report.latest || checkpoint.seq >= report.latest.seq) report.latest = { ...checkpoint, line };
        return;
      }
      report.failed += 1;
      if (report.problems.length < SHOWN)
        report.problems.push({ line, seq: checkpoint.seq, at: checkpoint.at, problem: result.problem });
    });
  }
  return report;
}

function summary(verdict: ChainVerdict): string {
  const head = verdict.head ? `head ${verdict.head.seq}:${verdict.head.hash}` : 'no events yet';
  const keys = Object.entries(verdict.keys).map(([kid, rows]) => `${rows} under key ${kid}`);
  if (verdict.legacy_rows > 0) keys.push(`${verdict.legacy_rows} from before the chain was keyed`);
  return `${verdict.rows} events, ${head}${keys.length ? ` (${keys.join(', ')})` : ''}`;
}

export const verifyCommand: Command = {
  path: ['audit', 'verify'],
  options: { 'expect-head': { type: 'string' }, checkpoints: { type: 'string' } },
  synopsis: '[--expect-head SEQ:HASH] [--checkpoints LOGFILE|-]',
  summary: 'verify the keyed audit chain; names the first row edited, deleted or forged (exit 1)',
  details: [
    '--expect-head   a head recorded earlier (as printed by verify): row SEQ must still have HASH',
    '--checkpoints   a log file (JSON lines; - for standard input) holding the signed checkpoints the service logs;',
    '                each must verify and its row must still be there (catches a deleted tail)',
  ],
  async run({ values }, ctx) {
    const expectHead = optionalString(values, 'expect-head');
    if (expectHead !== undefined && !/^\d+:[0-9a-f]{64}$/.test(expectHead))
      throw usageError(
        '--expect-head: expected SEQ:HASH as verify prints it, e.g. 1234:9f86d081…',
        'audit verify',
      );
    const file = optionalString(values, 'checkpoints');
    const admin = await ctx.admin();
    const query = expectHead === undefined ? '' : `?${new URLSearchParams({ expect_head: expectHead })}`;
    const verdict = (await admin.request('GET', `/audit/verify${query}`)) as ChainVerdict;
    const checkpoints = file === undefined ? undefined : await checkFile(admin, file, () => ctx.stdin());
    const ok = verdict.ok && (checkpoints?.failed ?? 0) === 0;
    const result = { ...verdict, ok, ...(checkpoints ? { checkpoints } : {}) };
    const lines: string[] = [];
    if (verdict.ok) lines.push(`Audit chain intact: ${summary(verdict)}.`);
    if (verdict.ok && expectHead !== undefined)
      lines.push(`Row ${expectHead.split(':')[0]} still has the expected hash.`);
    if (checkpoints && checkpoints.failed === 0) {
      const latest = checkpoints.latest as AuditCheckpoint;
      lines.push(
        `${checkpoints.checked} checkpoints in ${checkpoints.file} match the table (latest: seq ${latest.seq} at ${latest.at}).`,
      );
    }
    if (ok) {
      ctx.out.result(result, () => lines);
      return;
    }
    const problems: string[] = [];
    if (verdict.first_bad)
      problems.push(
        `audit chain BROKEN at seq ${verdict.first_bad.seq}: ${verdict.first_bad.problem} (${summary(verdict)} verify before it)`,
      );
    if (checkpoints && checkpoints.failed > 0) {
      problems.push(
        `${checkpoints.failed} of ${checkpoints.checked} checkpoints in ${checkpoints.file} do not hold:`,
      );
      for (const p of checkpoints.problems)
        problems.push(`  line ${p.line} (seq ${p.seq}, ${p.at}): ${p.problem}`);
      if (checkpoints.failed > checkpoints.problems.length)
        problems.push(`  … and ${checkpoints.failed - checkpoints.problems.length} more`);
    }
    // The verdict is printed with --json as on success; either way the exit code is 1.
    throw failure([...lines, ...problems].join('\n'), result);
  },
};
