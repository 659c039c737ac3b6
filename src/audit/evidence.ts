import pino, { type Logger } from 'pino';
import type { DatabaseHandle } from '../db/index.ts';
import type { AuditKeys } from './audit-keys.ts';
import type { AuditLogMetrics, TamperingDetail } from './audit-log.ts';
import { AuditCheckpointer } from './checkpoints.ts';
import { type AuditWriter, startAuditLog } from './start.ts';

export interface EvidenceSettings {
  keys: AuditKeys;
  /** AUDIT_BUFFER_SIZE, AUDIT_FLUSH_MS, AUDIT_CHECKPOINT_SECONDS. */
  bufferSize: number;
  flushMs: number;
  checkpointSeconds: number;
  /** Where packed decision rows keep their lines (segments.ts); undefined: in the rows. */
  segmentDir: string | undefined;
}

export interface EvidenceHooks {
  logger: Logger;
  metrics: AuditLogMetrics;
  /** Rows gone or a head without a valid MAC (counted, and logged as AUDIT TAMPERING). */
  onTampering: () => void;
}

/**
 * The audit log as the service runs it (issue 10): the keyed writer, signed checkpoints of the
 * head in the service's log every `checkpointSeconds` and once more at close, and tampering
 * the instance sees for itself reported at once.
 */
export async function startAuditEvidence(
  db: DatabaseHandle,
  settings: EvidenceSettings,
  hooks: EvidenceHooks,
): Promise<{ writer: AuditWriter; close(): Promise<void> }> {
  const { logger } = hooks;
  const tampering = (detail: object, what: string) => {
    hooks.onTampering();
    logger.error(detail, `AUDIT TAMPERING: ${what}`);
  };
  const writer = await startAuditLog(
    db,
    {
      capacity: settings.bufferSize,
      // Rows per transaction; a packed decision row holds up to 1,000 decisions. Transactions of
      // ~60 such rows left the embedded database's memory under load larger than ones of 32,
      // for no throughput (bench/peer.ts, two runs each: RSS under load 664-668 MB, now
      // 544-618 MB; the figure varies from run to run).
      batchSize: 32,
      flushMs: settings.flushMs,
      key: settings.keys.current,
      segmentDir: settings.segmentDir,
    },
    {
      metrics: hooks.metrics,
      onError: (error) =>
        logger.error({ err: error }, 'writing the audit log failed; events stay buffered and are retried'),
      onTampering: (detail: TamperingDetail) =>
        tampering(detail, 'audit rows this instance wrote were deleted from the table'),
    },
  );
  // Logged at info even when LOG_LEVEL is warn or error: an anchor left out is no anchor.
  const log =
    logger.levelVal > pino.levels.values.info && logger.level !== 'silent'
      ? logger.child({}, { level: 'info' })
      : logger;
  const checkpoints = new AuditCheckpointer(db, settings.keys, writer, { log, onTampering: tampering });
  checkpoints.start(settings.checkpointSeconds * 1000);
  return {
    writer,
    async close() {
      // Everything recorded so far is written, then its head is checkpointed.
      await writer.close();
      checkpoints.stop();
      await checkpoints.checkpoint();
    },
  };
}
