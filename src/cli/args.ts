import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { usageError } from './errors.ts';
import { closest } from './suggest.ts';

/** Options every command accepts, before or after the command words. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What a command declares about its command line. */
export interface CommandSpec {
  /** The words naming the command, e.g. `['client', 'create']`. */
  path: readonly string[];
  /** Names of its positional arguments, in order; all are required. */
  args?: readonly string[];
  options?: ParseArgsOptionsConfig;
  /** One line: the options after the command words, e.g. `--name N [--public]`. */
  synopsis: string;
  summary: string;
  /** Further help lines shown by `tollgate <command> --help`. */
  details?: readonly string[];
}

export interface Invocation<S extends CommandSpec = CommandSpec> {
  /** Undefined when no full command was named (then `help` is true). */
  spec: S | undefined;
  /** The words typed so far, e.g. `['client']` for `tollgate client --help`. */
  words: string[];
  help: boolean;
  json: boolean;
  url: string | undefined;
  values: OptionValues;
  positionals: string[];
}

const name = (spec: CommandSpec) => spec.path.join(' ');
const startsWith = (path: readonly string[], words: string[]) => words.every((w, i) => path[i] === w);

/**
 * Finds the command named by the leading words of `argv` (only global options may come before
 * them), then parses the rest strictly with the command's own options plus the global ones.
 */
export function parseCommandLine<S extends CommandSpec>(argv: string[], specs: readonly S[]): Invocation<S> {
  const words: string[] = [];
  const before: string[] = [];
  let spec: S | undefined;
  let i = 0;
  while (i < argv.length && !spec) {
    const token = argv[i++] ?? '';
    if (token.startsWith('-')) {
      if (!/^(--url(=.*)?|--json|--help|-h)$/.test(token)) {
        const option = token.split('=')[0] ?? token;
        throw usageError(
          `unknown option ${option}${words.length ? ` for "${words.join(' ')}"` : ''}${didYouMean(option, optionNames(GLOBAL_OPTIONS))}`,
        );
      }
      before.push(token);
      if (token === '--url' && i < argv.length) before.push(argv[i++] ?? '');
      continue;
    }
    words.push(token);
    spec = specs.find((s) => s.path.length === words.length && startsWith(s.path, words));
    if (!spec && !specs.some((s) => startsWith(s.path, words))) {
      const known = new Set(
        specs
          .filter((s) => startsWith(s.path, words.slice(0, -1)))
          .map((s) => s.path[words.length - 1] ?? ''),
      );
      const guess = closest(token, known);
      const hint = guess === undefined ? '' : `; did you mean "${[...words.slice(0, -1), guess].join(' ')}"?`;
      throw usageError(`unknown command "${words.join(' ')}"${hint}`);
    }
  }
  const options = { ...GLOBAL_OPTIONS, ...spec?.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...before, ...argv.slice(i)],
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw usageError(describeParseError(error, optionNames(options)), spec && name(spec));
  }
  const { values, positionals } = parsed;
  const invocation: Invocation<S> = {
    spec,
    words,
    help: values.help === true,
    json: values.json === true,
    url: typeof values.url === 'string' ? values.url : undefined,
    values,
    positionals,
  };
  if (invocation.help) return invocation;
  if (!spec) {
    if (words.length === 0) throw usageError('no command given');
    const next = specs.filter((s) => startsWith(s.path, words)).map((s) => s.path[words.length]);
    throw usageError(`"${words.join(' ')}" needs a subcommand: ${next.join(', ')}`, words.join(' '));
  }
  const expected = spec.args ?? [];
  if (positionals.length > expected.length) {
    throw usageError(`unexpected argument "${positionals[expected.length]}"`, name(spec));
  }
  // Everything missing in one message, so that one more try is enough.
  const missing = [
    ...expected.slice(positionals.length),
    ...requiredOptions(spec.synopsis)
      .filter((option) => values[option] === undefined)
      .map((option) => `--${option}`),
  ];
  if (missing.length > 0) {
    throw usageError(`${listed(missing)} ${missing.length === 1 ? 'is' : 'are'} required`, name(spec));
  }
  return invocation;
}

/**
 * The options a synopsis shows outside brackets: `--name N [--public]` requires `--name`. The
 * synopsis is what `--help` prints, so what it says is required is what is checked.
 */
export function requiredOptions(synopsis: string): string[] {
  let depth = 0;
  let outside = '';
  for (const char of synopsis) {
    if (char === '[') depth += 1;
    else if (char === ']') depth = Math.max(0, depth - 1);
    else if (depth === 0) outside += char;
  }
  return [...outside.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((match) => match[1] as string);
}

const listed = (items: string[]) =>
  items.length === 1 ? (items[0] as string) : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

const optionNames = (options: ParseArgsOptionsConfig) => Object.keys(options).map((option) => `--${option}`);

function didYouMean(typed: string, known: string[]): string {
  const guess = closest(typed, known);
  return guess === undefined ? '' : `; did you mean ${guess}?`;
}

// node:util's messages explain `--` escaping at length; a single short line reads better here.
function describeParseError(error: unknown, known: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option)
    return `unknown option ${option}${didYouMean(option, known)}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return message.includes('argument missing') ? `${option} needs a value` : `${option} takes no value`;
  }
  return message;
}

/** The value of a string option, or undefined when absent. */
export function optionalString(values: OptionValues, option: string): string | undefined {
  const value = values[option];
  return typeof value === 'string' ? value : undefined;
}

/** The value of a string option that the command cannot do without. */
export function requiredString(values: OptionValues, option: string, command: string): string {
  const value = optionalString(values, option);
  if (value === undefined) throw usageError(`--${option} is required`, command);
  return value;
}

/** Every value of a repeatable option, in the order given. */
export function stringList(values: OptionValues, option: string): string[] {
  const value = values[option];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Whether a boolean option was given. */
export function flag(values: OptionValues, option: string): boolean {
  return values[option] === true;
}
