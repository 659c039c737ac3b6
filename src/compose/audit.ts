import type { Logger } from 'pino';
import {
  type AuditKeys,
  type AuditSink,
  auditKeys as buildAuditKeys,
  startAuditEvidence,
} from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { auditMetrics, type Metrics, meteredAudit } from '../http/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * The audit chain's writer with its checkpoints, counted in the metrics. It stops after
 * everything that records (started later, stopped earlier), so the last response's events are
 * written before the database closes.
 */
export async function startAudit(
  db: DatabaseHandle,
  kek: Buffer,
  config: Pick<Config, 'audit'>,
  logger: Logger,
  metrics: Metrics,
  lifecycle: Lifecycle,
): Promise<{ audit: AuditSink; auditKeys: AuditKeys; auditSegments: string | undefined }> {
  // Decision segments are files of this instance: only the embedded database (one process)
  // keeps them; instances sharing PostgreSQL keep decisions in the rows every one can read.
  const auditSegments = db.kind === 'pglite' ? config.audit.segmentDir : undefined;
  // The chain's MAC key: AUDIT_KEY, else derived from the key-encryption key (issue 10).
  const auditKeys = buildAuditKeys({
    configured: config.audit.key,
    previous: config.audit.previousKeys,
    keyEncryptionKey: kek,
  });
  const evidence = await startAuditEvidence(
    db,
    {
      keys: auditKeys,
      bufferSize: config.audit.bufferSize,
      flushMs: config.audit.flushMs,
      checkpointSeconds: config.audit.checkpointSeconds,
      segmentDir: auditSegments,
    },
    { logger, metrics: auditMetrics(metrics), onTampering: () => metrics.auditTampering.inc() },
  );
  lifecycle.started(evidence, 'audit evidence', async () => {
    const before = evidence.writer.lastWritten?.seq ?? 0;
    await evidence.close();
    const head = evidence.writer.lastWritten?.seq ?? 0;
    // Rows this instance appended while closing (others' may interleave on a shared database).
    logger.info({ rows: head - before, head_seq: head || null }, 'audit log flushed');
  });
  return { audit: meteredAudit(evidence.writer, metrics), auditKeys, auditSegments };
}
