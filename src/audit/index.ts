/**
 * The append-only audit log, chained with MACs under the audit key: a buffered writer (AuditLog), a sink that keeps
 * nothing (NOP_AUDIT), and reading, verifying and exporting the chain.
 */

export { type AuditKey, type AuditKeys, auditKeys, deriveAuditKey } from './audit-keys.ts';
export {
  AuditLog,
  type AuditLogMetrics,
  type AuditLogOptions,
  NO_AUDIT_METRICS,
  NOP_AUDIT,
} from './audit-log.ts';
export { type ChainHead, type ChainVerdict, GENESIS_HASH, legacyLinkHash, linkHash } from './chain.ts';
export {
  type AuditCheckpoint,
  AuditCheckpointer,
  CHECKPOINT_FIELD,
  type CheckpointResult,
  checkCheckpoints,
  signCheckpoint,
} from './checkpoints.ts';
export { type DecisionInput, packableInput as isDecisionInput } from './decision-inputs.ts';
export { latencyMicros, recordDecisionCall } from './decision-rows.ts';
export { startAuditEvidence } from './evidence.ts';
export { createInputHasher, type InputHasher } from './input-hash.ts';
export {
  type AuditPage,
  type AuditRecord,
  type DecisionPage,
  exportAudit,
  queryAudit,
  recentDecisions,
  toRecords,
  verifyAuditChain,
} from './reader.ts';
export { type AuditWriter, startAuditLog } from './start.ts';
export { ThreadedAuditLog } from './threaded-audit-log.ts';
export type { AuditEvent, AuditEventType, AuditSink, CallInputs, DecisionCall } from './types.ts';
