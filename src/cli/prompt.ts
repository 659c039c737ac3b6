import type { CommandContext } from './command.ts';
import { failure, usageError } from './errors.ts';

/** A terminal to read from: what a TTY stream offers (process.stdin on a terminal). */
export interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Asks `question` on `output` (stderr: stdout stays the command's result) and reads one line
 * from the terminal without echoing it, as passwd and sudo do: raw mode, so the terminal shows
 * nothing of what is typed. Backspace edits; Enter ends; Ctrl-C or Ctrl-D on an empty line
 * cancel (exit 1). The line's text never reaches the output.
 */
export function readHidden(
  question: string,
  input: TerminalInput,
  output: { write(text: string): unknown },
): Promise<string> {
  if (!input.isTTY || !input.setRawMode)
    return Promise.reject(failure('no terminal to ask for the password'));
  const setRawMode = input.setRawMode.bind(input);
  // Echo off before the question shows: whatever is typed once it is on screen stays unseen.
  setRawMode(true);
  output.write(question);
  input.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || (char === '\u0004' && line === '')) return finish(failure('cancelled'));
        if (char === '\u007f' || char === '\b') line = [...line].slice(0, -1).join('');
        else if (char >= ' ') line += char;
      }
    };
    input.on('data', onData);
  });
}

/**
 * A secret piped in on stdin for `--FLAG` (`--password-stdin`, `--client-secret-stdin`): never
 * from arguments, which other users see in the process list. One trailing newline is dropped.
 * A terminal is refused, as reading it would echo the secret and wait for Ctrl-D.
 */
export async function readPipedSecret(
  ctx: CommandContext,
  command: string,
  flag: string,
  what = 'secret',
): Promise<string> {
  const stdin = ctx.stdin();
  if (stdin.isTTY) throw usageError(`--${flag} needs the ${what} piped in, not typed at a terminal`, command);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '') throw usageError(`--${flag}: standard input was empty`, command);
  return secret;
}
