import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/index.ts';

/** Secrets never appear in logs, whatever object carries them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.token',
];

/** Where the log goes: stdout, or a stream a test hands in. */
export type LogDestination = { write(text: string): unknown; isTTY?: boolean };

/**
 * JSON lines with ISO 8601 times for collectors (ELK, Loki, `docker logs`), or, when a person
 * watches a terminal, one readable line per event (pino-pretty, loaded only then).
 */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  destination: LogDestination = process.stdout,
): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination.isTTY) {
    const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const prettify = prettyFactory({
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: 'pid,hostname',
      colorize: true,
    });
    // Formatted as it is written: a line is on the terminal before the next one is logged.
    return pino(options, { write: (line: string) => destination.write(prettify(line)) });
  }
  return destination === process.stdout ? pino(options) : pino(options, destination);
}
