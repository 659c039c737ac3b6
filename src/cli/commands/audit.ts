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

const query: Command = {
  path: ['audit', 'query'],
  options: { ...FILTER_OPTIONS, limit: { type: 'string' } },
  synopsis: '[--since T] [--until T] [--subject S] [--type T] [--limit N]',
  summary: 'audit events matching a filter, oldest first (at most --limit, default 100)',
  details: FILTER_DETAILS,
  async run({ values }, ctx) {
    const params = filterParams(values, 'audit query');
    const limit = optionalString(values, 'limit');
    if (limit !== undefined) params.set('limit', limit);
    const result = (await (await ctx.admin()).request('GET', `/audit?${params}`)) as {
      events: AuditRecord[];
      next_after: number | null;
    };
    ctx.out.result(result, () => [
      ...table(
        ['SEQ', 'TIME', 'TYPE', 'ACTOR', 'SUBJECT', 'IP', 'DATA'],
        result.events.map((e) => [
          // A decision in a row shared with others (README "Audit log"): row seq and place.
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
      ...(result.next_after === null ? [] : [`(more: the API continues after seq ${result.next_after})`]),
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
