import { type QueryExecutorProvider, sql } from 'kysely';

/**
 * Every transaction-scoped advisory lock Tollgate takes, in one registry so that no two kinds
 * of work can share an id by accident. Each serializes one kind of work across processes and
 * instances on one database (docs/architecture.md, "Storage").
 */
export const ADVISORY_LOCKS = {
  /** Creating, rotating and retiring signing keys. */
  signingKeys: 7310001,
  /** The built-in API and the first admin client. */
  bootstrap: 7310002,
  /** Seeding the policy store from POLICY_DIR. */
  policySeed: 7310003,
  /** Appending to the audit chain (every writer extends one chain). */
  auditAppend: 7310004,
} as const;

export type AdvisoryLock = keyof typeof ADVISORY_LOCKS;

/** Holds `lock` until the transaction `trx` ends. */
export async function takeAdvisoryLock(trx: QueryExecutorProvider, lock: AdvisoryLock): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ADVISORY_LOCKS[lock]})`.execute(trx);
}
