import { createHmac } from 'node:crypto';
import { auditEventQueries, type DatabaseHandle } from '../db/index.ts';
import type { AuditKey, AuditKeys } from './audit-keys.ts';
import { type ChainHead, rowMacValid, sameHash } from './chain.ts';

/**
 * A signed record of the chain's head at a moment, written to the service's log so that a
 * store the database holder cannot rewrite (ELK, Loki) holds it. A deleted tail leaves a
 * shorter chain that is itself intact; only a head recorded elsewhere shows it is gone.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** When the head was read (ISO 8601). */
  at: string;
  kid: string;
  mac: string;
}

/** The log line's field holding a checkpoint (`tollgate audit verify --checkpoints` looks for it). */
export const CHECKPOINT_FIELD = 'audit_checkpoint';

function checkpointMac(key: AuditKey, head: ChainHead, at: string): string {
  // Its own label: a row's MAC can never pass for a checkpoint's, nor the other way round.
  return createHmac('sha256', key.key)
    .update(JSON.stringify(['tollgate audit checkpoint', key.id, head.seq, head.hash, at]))
    .digest('hex');
}

export function signCheckpoint(key: AuditKey, head: ChainHead, at: Date): AuditCheckpoint {
  const time = at.toISOString();
  return { ...head, at: time, kid: key.id, mac: checkpointMac(key, head, time) };
}

export type CheckpointResult = { ok: true } | { ok: false; problem: string };

/**
 * Checks checkpoints against the table: each must carry a valid MAC under one of the audit keys,
 * and its row must still be there with the same hash.
 */
export async function checkCheckpoints(
  db: DatabaseHandle,
  keys: AuditKeys,
  checkpoints: AuditCheckpoint[],
): Promise<{ head: ChainHead | null; results: CheckpointResult[] }> {
  const queries = auditEventQueries(db.db);
  const last = await queries.last();
  const stored = await queries.hashesAt([...new Set(checkpoints.map((c) => c.seq))]);
  const endSeq = last?.seq ?? 0;
  const results = checkpoints.map((checkpoint): CheckpointResult => {
    const key = keys.byId.get(checkpoint.kid);
    if (!key || !sameHash(checkpointMac(key, checkpoint, checkpoint.at), checkpoint.mac))
      return {
        ok: false,
        problem: 'its MAC is not valid under the audit keys (forged, or another deployment)',
      };
    const hash = stored.get(checkpoint.seq);
    if (hash === undefined)
      return {
        ok: false,
        problem:
          checkpoint.seq > endSeq
            ? `row ${checkpoint.seq} is missing: the table ends at seq ${endSeq} (rows ${endSeq + 1}–${checkpoint.seq} were deleted)`
            : `row ${checkpoint.seq} is missing (deleted)`,
      };
    if (!sameHash(checkpoint.hash, hash))
      return {
        ok: false,
        problem: `row ${checkpoint.seq} has another hash than recorded (history rewritten)`,
      };
    return { ok: true };
  });
  return { head: last ? { seq: last.seq, hash: last.hash } : null, results };
}

interface CheckpointLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Logs a signed checkpoint of the head every `intervalMs` and once more at shutdown (after the
 * last events are written). The head is read from the database but trusted only as far as it
 * proves itself: its MAC must verify, and it may not lie behind the newest row this instance
 * wrote itself; otherwise the instance says the table was tampered with and checkpoints what
 * it knows.
 */
export class AuditCheckpointer {
  readonly #db: DatabaseHandle;
  readonly #keys: AuditKeys;
  readonly #writer: { readonly lastWritten: ChainHead | undefined };
  readonly #log: CheckpointLog;
  readonly #onTampering: (detail: object, what: string) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    db: DatabaseHandle,
    keys: AuditKeys,
    writer: { readonly lastWritten: ChainHead | undefined },
    hooks: { log: CheckpointLog; onTampering: (detail: object, what: string) => void },
  ) {
    this.#db = db;
    this.#keys = keys;
    this.#writer = writer;
    this.#log = hooks.log;
    this.#onTampering = hooks.onTampering;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.checkpoint(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Logs one checkpoint now; never throws (a database away only skips this one). */
  async checkpoint(): Promise<AuditCheckpoint | undefined> {
    let head: ChainHead | undefined;
    try {
      head = await this.#head();
    } catch (error) {
      this.#log.error({ err: error }, 'audit checkpoint skipped: reading the chain head failed');
      return undefined;
    }
    if (!head) return undefined;
    const checkpoint = signCheckpoint(this.#keys.current, head, new Date());
    this.#log.info({ [CHECKPOINT_FIELD]: checkpoint }, 'audit checkpoint');
    return checkpoint;
  }

  async #head(): Promise<ChainHead | undefined> {
    const own = this.#writer.lastWritten;
    const last = await auditEventQueries(this.#db.db).last();
    if (last && !rowMacValid(this.#keys, last)) {
      this.#onTampering(
        { seq: last.seq },
        'the newest audit row does not carry a valid MAC; checkpointing the last row this instance wrote',
      );
      return own;
    }
    if (own && (!last || last.seq < own.seq)) {
      this.#onTampering(
        { wrote: own.seq, table_ended_at: last?.seq ?? 0 },
        'audit rows this instance wrote were deleted from the table',
      );
      return own;
    }
    return last ? { seq: last.seq, hash: last.hash } : undefined;
  }
}
