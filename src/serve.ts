import cluster from 'node:cluster';
import { ConfigError, restrictNewFileModes } from './common/index.ts';
import { createLogger, startTollgate } from './compose/index.ts';
import { type Config, loadConfig } from './config/index.ts';
import { type DatabaseHandle, DataDirLockedError, SchemaBehindError } from './db/index.ts';
import { clusterMetrics, startMetricsServer, superviseWorkers } from './http/index.ts';
import { resolveKeyEncryptionKey } from './keys/index.ts';

/** The service as `npm start` runs it (entered through src/main.ts): configuration, then the root. */
async function serve(opening: Promise<DatabaseHandle> | undefined): Promise<void> {
  // Files created from here on (PGlite's WAL and tables, keys) are owner-only (issue 9).
  restrictNewFileModes();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) process.stderr.write(`tollgate: invalid configuration: ${line}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.workers > 1 && cluster.isPrimary) {
    // The development key is created here, once, before any worker looks for it: workers
    // creating it together would find each other's file and refuse to start.
    resolveKeyEncryptionKey(config.keyEncryptionKey, config.dataDir);
    superviseWorkers(config.workers);
    if (config.metricsPort !== undefined)
      await startMetricsServer(config.metricsPort, undefined, clusterMetrics());
    return;
  }
  const logger = createLogger(config);
  const tollgate = await startTollgate(config, { logger, ...(opening ? { opening } : {}) });
  // Tells a supervising primary that this worker started (see superviseWorkers).
  process.send?.('ready');
  const shutdown = (signal: NodeJS.Signals) => {
    const started = performance.now();
    logger.info({ signal }, 'shutting down: draining connections, then flushing the audit log');
    tollgate.close().then(
      () => {
        logger.info({ signal, ms: Math.round(performance.now() - started) }, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ signal, err: error }, 'stopped with errors');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Runs the service; a failed start exits the process with a message, never a stack trace. */
export function run(opening?: Promise<DatabaseHandle>): void {
  serve(opening).catch((error: unknown) => {
    process.stderr.write(
      `tollgate: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    // Another process holding the embedded database, or a schema only the owner can migrate,
    // is the operator's to resolve, like a bad configuration: exit 2, not 1.
    process.exit(error instanceof DataDirLockedError || error instanceof SchemaBehindError ? 2 : 1);
  });
}
