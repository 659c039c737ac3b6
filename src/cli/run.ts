import { type AdminApi, connectAdmin } from './admin-client.ts';
import { parseCommandLine } from './args.ts';
import type { CommandContext } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError } from './errors.ts';
import { createOutput } from './output.ts';
import { resolveTarget } from './target.ts';
import { shortUsage, usage } from './usage.ts';

/** The process around the CLI, handed in so tests and embedders can supply their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** A function, so that commands that never read stdin never open it. */
  stdin(): NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one `tollgate` command line and returns the exit code: 0 done, 1 the server, network or
 * a file failed, 2 the command line was wrong. Errors are one `tollgate: …` line on stderr.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // Which command's usage to show when a later step (e.g. checking --url) finds a usage error.
  let command: readonly string[] = [];
  let json = false;
  try {
    const invocation = parseCommandLine(argv, COMMANDS);
    command = invocation.words;
    json = invocation.json;
    if (invocation.help || !invocation.spec) {
      io.stdout.write(usage(COMMANDS, invocation.words));
      return 0;
    }
    let admin: Promise<AdminApi> | undefined;
    const ctx: CommandContext = {
      out: createOutput(invocation.json, io.stdout),
      env: io.env,
      admin: () => {
        admin ??= Promise.resolve().then(() => connectAdmin(resolveTarget(invocation.url, io.env)));
        return admin;
      },
      stdin: io.stdin,
      stderr: io.stderr,
    };
    await invocation.spec.run(invocation, ctx);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) {
      io.stderr.write(
        `tollgate: unexpected error: ${oneLine(error instanceof Error ? error.message : String(error))}\n`,
      );
      return 1;
    }
    if (json && error.result !== undefined) createOutput(true, io.stdout).result(error.result, () => '');
    io.stderr.write(`tollgate: ${printable(error.message)}\n`);
    if (error.kind === 'usage') io.stderr.write(shortUsage(COMMANDS, error.command?.split(' ') ?? command));
    return error.exitCode;
  }
}

// Messages may list several problems, one per line; each line is made printable on its own.
function printable(text: string): string {
  return text.split('\n').map(oneLine).filter(Boolean).join('\n');
}

// Server-supplied text goes to a terminal: no control characters, no second line.
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
