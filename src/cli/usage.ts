import type { CommandSpec } from './args.ts';
import { DEFAULT_URL } from './target.ts';

const GLOBAL_HELP = [
  'Global options:',
  `  --url URL    Tollgate's base URL (default: $TOLLGATE_URL, else "url" in $DATA_DIR/admin.json, else ${DEFAULT_URL})`,
  '  --json       print exactly the JSON result on stdout',
  '  -h, --help   show help (also after a command: tollgate client create --help)',
  '',
  'Credentials: $TOLLGATE_CLIENT_ID and $TOLLGATE_CLIENT_SECRET, else $DATA_DIR/admin.json',
  '(written by the server on its first start; DATA_DIR defaults to ./data).',
];

/** Help for the whole tool, or only for the commands under `words` (e.g. `client`). */
export function usage(specs: readonly CommandSpec[], words: readonly string[] = []): string {
  const shown = specs.filter((s) => words.every((w, i) => s.path[i] === w));
  const exact = shown.length === 1 && shown[0]?.path.length === words.length ? shown[0] : undefined;
  if (exact) {
    return [
      `Usage: tollgate ${exact.path.join(' ')} ${exact.synopsis}`.trimEnd(),
      '',
      `  ${exact.summary}`,
      ...(exact.details ?? []).map((line) => `  ${line}`),
      '',
      ...GLOBAL_HELP,
      '',
    ].join('\n');
  }
  const width = Math.max(...shown.map((s) => s.path.join(' ').length));
  return [
    `Usage: tollgate [--url URL] [--json] ${words.length ? words.join(' ') : '<command>'} … [options]`,
    '',
    'Commands:',
    ...shown.flatMap((s) => [
      `  ${s.path.join(' ').padEnd(width)}  ${s.summary}`,
      ...(s.synopsis ? [`  ${' '.repeat(width)}    ${s.synopsis}`] : []),
    ]),
    '',
    ...GLOBAL_HELP,
    '',
  ].join('\n');
}

/** The few lines shown under a usage error: the synopsis, and where the full help is. */
export function shortUsage(specs: readonly CommandSpec[], words: readonly string[] = []): string {
  const exact = specs.find((s) => s.path.join(' ') === words.join(' '));
  if (exact) {
    const name = exact.path.join(' ');
    return `Usage: tollgate ${name} ${exact.synopsis}`
      .trimEnd()
      .concat(`\nRun "tollgate ${name} --help" for details.\n`);
  }
  const groups = new Map<string, string[]>();
  for (const s of specs.filter((s) => words.every((w, i) => s.path[i] === w))) {
    const [head = '', ...rest] = s.path;
    groups.set(head, [...(groups.get(head) ?? []), ...(rest.length ? [rest.join(' ')] : [])]);
  }
  const names = [...groups].map(([head, subs]) => (subs.length ? `${head} ${subs.join('|')}` : head));
  return [
    `Usage: tollgate [--url URL] [--json] ${words.length ? words.join(' ') : '<command>'} … [options]`,
    `Commands: ${names.join(', ')}`,
    'Run "tollgate --help" for details.',
    '',
  ].join('\n');
}
