/**
 * Why a command stopped. `usage` means the command line itself is wrong (exit 2, usage shown,
 * as getopt tools do); `failed` means the command was fine but the server, the network or a
 * local file was not (exit 1). Messages are shown to people: they never carry a secret.
 */
export class CliError extends Error {
  readonly kind: 'usage' | 'failed';
  /** The command whose usage to show with a usage error, e.g. `client create`. */
  readonly command: string | undefined;
  /**
   * What the command found, printed on stdout with `--json` (failing test cases, a broken
   * chain): a script reads why it failed as it reads a success. Errors that stopped the command
   * before it had a result (bad usage, no server) have none and stay plain text on stderr.
   */
  readonly result: unknown;

  constructor(kind: 'usage' | 'failed', message: string, command?: string, result?: unknown) {
    super(message);
    this.name = 'CliError';
    this.kind = kind;
    this.command = command;
    this.result = result;
  }

  get exitCode(): 1 | 2 {
    return this.kind === 'usage' ? 2 : 1;
  }
}

/** A wrong command line: exit 2 with the usage of `command` (or of the whole tool). */
export function usageError(message: string, command?: string): CliError {
  return new CliError('usage', message, command);
}

/** A correct command that could not be carried out, or found what it checks failing: exit 1. */
export function failure(message: string, result?: unknown): CliError {
  return new CliError('failed', message, undefined, result);
}
