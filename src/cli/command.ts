import type { AdminApi } from './admin-client.ts';
import type { CommandSpec, Invocation } from './args.ts';
import type { Output } from './output.ts';

/** What a command may use; everything is handed in so that a command never reaches for globals. */
export interface CommandContext {
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Connects on first use, so usage errors and `migrate` need no server. */
  admin(): Promise<AdminApi>;
  stdin(): NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  /** For prompts and progress: stdout holds only the result. */
  stderr: { write(text: string): unknown };
}

/** One `tollgate …` command: its command line and what it does. */
export interface Command extends CommandSpec {
  run(invocation: Invocation, ctx: CommandContext): Promise<void>;
}
