import type { AuditRecord } from '../../audit/index.ts';
import { type OptionValues, optionalString } from '../args.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { table } from '../output.ts';
import { verifyCommand } from './audit-verify.ts';

const FILTER_OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  subject: { type: 'string' },
  type: { type: 'string' },
} as const;

const FILTER_DETAILS = [
  '--since, --until   ISO 8601 date-times (e.g. 2026-11-23T00:00:00Z), or a duration back from now: 15m, 24h, 7d',
  '--subject          a user id (or username on failed logins, client id on machine tokens)',
  '--type             e.g. token.issued, token.refused, login.failed, admin.change, decision',
];

/** The filter as admin API query parameters; durations are turned into date-times here. */
function filterParams(values: OptionValues, command: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const name of ['since', 'until'] as const) {
    const value = optionalString(values, name);
    if (value !== undefined) params.set(name, instant(value, name, command));
  }
  for (const name of ['subject', 'type'] as const) {
    const value = optionalString(values, name);
    if (value !== undefined) params.set(name, value);
  }
  return params;
}

function instant(value: string, option: string, command: string): string {
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  if (Number.isNaN(Date.parse(value)))
    throw usageError(
      `--${option} ${value}: expected an ISO 8601 date-time or a duration such as 24h`,
      command,
    );
  return value;
}

interface AuditPage {
  events: AuditRecord[];
  next_after: number | null;
  next_before: number | null;
}

/**
 * Newest first by default, paging back in time with `--before`; `--after` pages forward in
 * chain order from a seq (`--after 0`: from the start). A decision sharing its row with others
 * shows as SEQ.INDEX (README "Audit log"), and a page holds whole rows, so the cursors are rows.
 */
const query: Command = {
  path: ['audit', 'query'],
  options: {
    ...FILTER_OPTIONS,
    limit: { type: 'string' },
    after: { type: 'string' },
    before: { type: 'string' },
  },
  synopsis: '[--since T] [--until T] [--subject S] [--type T] [--limit N] [--before SEQ | --after SEQ]',
  summary: 'audit events matching a filter, newest first (at most --limit, default 100)',
  details: [
    ...FILTER_DETAILS,
    '--before SEQ       older events: those before row SEQ, newest first (the next page, as the "(more: …)" line says)',
    '--after SEQ        newer events: those after row SEQ, oldest first (--after 0: from the start)',
    '                   both together: the events between the two rows, oldest first;',
    '                   SEQ.INDEX (a decision in a shared row) includes that whole row',
  ],
  async run({ values }, ctx) {
    const command = 'audit query';
    const params = filterParams(values, command);
    const limit = optionalString(values, 'limit');
    if (limit !== undefined) params.set('limit', limit);
    for (const name of ['after', 'before'] as const) {
      const value = optionalString(values, name);
      if (value === undefined) continue;
      const match = /^(\d{1,15})(\.\d{1,4})?$/.exec(value);
      if (!match)
        throw usageError(`--${name} ${value}: expected a seq as the SEQ column shows it, e.g. 4711`, command);
      // SEQ.INDEX is a decision in a packed row. Pages hold whole rows, so its whole row is shown
      // again rather than the decisions beside it being skipped.
      const row = Number(match[1]);
      params.set(
        name,
        String(match[2] === undefined ? row : name === 'after' ? Math.max(0, row - 1) : row + 1),
      );
    }
    params.set('order', params.has('after') ? 'asc' : 'desc');
    const result = (await (await ctx.admin()).request('GET', `/audit?${params}`)) as AuditPage;
    const more =
      result.next_before !== null
        ? `(more: --before ${result.next_before})`
        : result.next_after !== null
          ? `(more: --after ${result.next_after})`
          : undefined;
    ctx.out.result(result, () => [
      ...table(
        ['SEQ', 'TIME', 'TYPE', 'ACTOR', 'SUBJECT', 'IP', 'DATA'],
        result.events.map((e) => [
          e.index === undefined ? String(e.seq) : `${e.seq}.${e.index}`,
          e.occurred_at,
          e.type,
          e.actor ?? '-',
          e.subject ?? '-',
          e.ip ?? '-',
          JSON.stringify(e.data),
        ]),
        'No audit events match.',
      ),
      ...(more ? [more] : []),
    ]);
  },
};

const exportEvents: Command = {
  path: ['audit', 'export'],
  options: FILTER_OPTIONS,
  synopsis: '[--since T] [--until T] [--subject S] [--type T]',
  summary: 'stream matching audit events as JSON lines (for ELK, Loki, files)',
  details: FILTER_DETAILS,
  async run({ values }, ctx) {
    const params = filterParams(values, 'audit export');
    for await (const chunk of (await ctx.admin()).stream(`/audit/export?${params}`)) ctx.out.raw(chunk);
  },
};

export const auditCommands: readonly Command[] = [verifyCommand, query, exportEvents];
