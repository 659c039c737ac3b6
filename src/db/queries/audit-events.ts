import { type Kysely, type Selectable, sql } from 'kysely';
import type { AuditEventsTable, Database } from '../schema/index.ts';
import { takeAdvisoryLock } from './advisory-locks.ts';

/** A stored row; `data_text` is the data exactly as written, which the chain hash covers. */
export type AuditRow = Selectable<AuditEventsTable> & { data_text: string };

/** An event as the writer hands it in; seq and hashes are assigned while appending. */
export interface NewAuditRow {
  occurred_at: Date;
  type: string;
  actor: string | null;
  subject: string | null;
  client_id: string | null;
  ip: string | null;
  /** JSON text, hashed and stored exactly as given. */
  data: string;
}

export interface AuditFilter {
  since?: Date | undefined;
  until?: Date | undefined;
  subject?: string | undefined;
  /**
   * With `subject`: rows of these `types` without a subject of their own (they hold several)
   * match too when their data's text contains any of `needles`; the caller picks out the parts
   * that matched.
   */
  subjectInData?: { types: string[]; needles: string[] } | undefined;
  type?: string | undefined;
  /** Only rows after this seq (paging). */
  after?: number | undefined;
  /** Only rows before this seq (paging backwards). */
  before?: number | undefined;
  /** Chain order (`asc`, the default) or newest first; `limit` takes the first rows in it. */
  order?: 'asc' | 'desc' | undefined;
  limit: number;
}

export function auditEventQueries(db: Kysely<Database>) {
  return {
    /**
     * Appends rows after the current last one, in one transaction under an advisory lock, so
     * concurrent writers extend one chain. `link` computes a row's hash from its predecessor's.
     * Returns the seq the batch followed and the new head.
     */
    async append(
      rows: NewAuditRow[],
      chain: {
        keyId: string;
        genesis: string;
        link: (prevHash: string, row: NewAuditRow & { seq: number }) => string;
      },
    ): Promise<{ after: number; head: { seq: number; hash: string } }> {
      const { keyId, genesis, link } = chain;
      return await db.transaction().execute(async (trx) => {
        await takeAdvisoryLock(trx, 'auditAppend');
        // uses audit_events_pkey (backward scan)
        const last = await trx
          .selectFrom('audit_events')
          .select(['seq', 'hash'])
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst();
        const after = last?.seq ?? 0;
        let seq = after;
        let prevHash = last?.hash ?? genesis;
        const values = rows.map((row) => {
          seq += 1;
          const hash = link(prevHash, { ...row, seq });
          const value = { ...row, seq, prev_hash: prevHash, hash, key_id: keyId };
          prevHash = hash;
          return value;
        });
        // Bound values, the data as its text: a transaction holds a few dozen rows (decisions
        // come packed, hundreds to a row), so binding row by row costs little, and the data is
        // neither escaped into an outer JSON document nor parsed twice (a third of the embedded
        // engine's insert time with one JSON parameter for the batch).
        await trx.insertInto('audit_events').values(values).execute();
        return { after, head: { seq, hash: prevHash } };
      });
    },

    /** The newest row, whole (the head a checkpoint records); undefined for an empty table. */
    // uses audit_events_pkey (backward scan)
    last(): Promise<AuditRow | undefined> {
      return db
        .selectFrom('audit_events')
        .selectAll()
        .select(sql<string>`data::text`.as('data_text'))
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
    },

    /** The stored hash of each of these rows (those that exist), to compare with checkpoints. */
    // uses audit_events_pkey
    async hashesAt(seqs: number[]): Promise<Map<number, string>> {
      if (seqs.length === 0) return new Map();
      const rows = await db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .where('seq', 'in', seqs)
        .execute();
      return new Map(rows.map((row) => [Number(row.seq), row.hash]));
    },

    /** Rows in chain order after `afterSeq` (for verification and export). */
    // uses audit_events_pkey
    page(afterSeq: number, limit: number): Promise<AuditRow[]> {
      return db
        .selectFrom('audit_events')
        .selectAll()
        .select(sql<string>`data::text`.as('data_text'))
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
    },

    // uses audit_events_subject_idx, audit_events_type_idx or audit_events_pkey (either direction)
    query(filter: AuditFilter): Promise<AuditRow[]> {
      let query = db.selectFrom('audit_events').selectAll().select(sql<string>`data::text`.as('data_text'));
      if (filter.since) query = query.where('occurred_at', '>=', filter.since);
      if (filter.until) query = query.where('occurred_at', '<', filter.until);
      const { subject, subjectInData } = filter;
      if (subject !== undefined && subjectInData) {
        query = query.where((eb) =>
          eb.or([
            eb('subject', '=', subject),
            eb.and([
              eb('type', 'in', subjectInData.types),
              eb('subject', 'is', null),
              eb.or(
                subjectInData.needles.map((needle) => sql<boolean>`position(${needle} in data::text) > 0`),
              ),
            ]),
          ]),
        );
      } else if (subject !== undefined) query = query.where('subject', '=', subject);
      if (filter.type !== undefined) query = query.where('type', '=', filter.type);
      if (filter.after !== undefined) query = query.where('seq', '>', filter.after);
      if (filter.before !== undefined) query = query.where('seq', '<', filter.before);
      return query
        .orderBy('seq', filter.order ?? 'asc')
        .limit(filter.limit)
        .execute();
    },
  };
}
