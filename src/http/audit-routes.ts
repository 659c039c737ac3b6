import { Readable } from 'node:stream';
import type Router from '@koa/router';
import { z } from 'zod';
import { storedIdentifier } from '../admin/index.ts';
import {
  type AuditKeys,
  checkCheckpoints,
  exportAudit,
  queryAudit,
  verifyAuditChain,
} from '../audit/index.ts';
import { parseInput } from '../common/index.ts';
import type { DatabaseHandle } from '../db/index.ts';

/** An instant in a query or body: ISO 8601 with an offset. */
export const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-23T10:00:00Z' })
  .transform((value) => new Date(value));

const filterQuery = z.strictObject({
  since: instant.optional(),
  until: instant.optional(),
  subject: storedIdentifier.optional(),
  type: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)?$/, 'must be an event type such as login.failed')
    .optional(),
});

const HEAD = /^(\d{1,15}):([0-9a-f]{64})$/;
const head = z
  .string()
  .regex(HEAD, 'must be SEQ:HASH as `audit verify` prints it, e.g. 1234:9f86d081…')
  .transform((value) => {
    const [, seq, hash] = HEAD.exec(value) as RegExpExecArray;
    return { seq: Number(seq), hash: hash as string };
  });

const verifyQuery = z.strictObject({ expect_head: head.optional() });

/** At most this many per request: the CLI sends a log file's checkpoints in batches. */
export const CHECKPOINT_BATCH = 200;

const checkpointsBody = z.strictObject({
  checkpoints: z
    .array(
      z.strictObject({
        seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
        hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
        at: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
        kid: z.string().min(1).max(64),
        mac: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
      }),
    )
    .min(1)
    .max(CHECKPOINT_BATCH),
});

/** A row's seq as a cursor: decimal digits only, so `0x10`, `1e3` or ` 5` are not other spellings of one. */
const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a seq: a whole number, e.g. 4711')
  .transform(Number);

const pageQuery = filterQuery.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: seq.optional(),
  before: seq.optional(),
  order: z
    .enum(['asc', 'desc'], { error: 'must be asc (chain order) or desc (newest first)' })
    .default('asc'),
});

/**
 * `/admin/audit` (query, paged by seq either way: `after` in chain order, `before` newest first), `/admin/audit/verify` (walk the keyed chain, optionally
 * against a head recorded elsewhere), `/admin/audit/checkpoints` (check logged checkpoints
 * against the table) and `/admin/audit/export` (JSON lines, for shipping to ELK or Loki).
 * Mounted inside the admin router (scope admin). Only the service holds the audit keys, so
 * verification happens here, not in the CLI.
 */
export function addAuditRoutes(
  router: Router,
  db: DatabaseHandle,
  keys: AuditKeys,
  segments: string | undefined,
): void {
  router.get('/audit', async (ctx) => {
    const query = parseInput(pageQuery, ctx.query);
    const { events, nextAfter, nextBefore } = await queryAudit(db, query, segments);
    ctx.body = { events, next_after: nextAfter, next_before: nextBefore };
  });
  router.get('/audit/verify', async (ctx) => {
    const { expect_head } = parseInput(verifyQuery, ctx.query);
    ctx.body = await verifyAuditChain(db, keys, { expectHead: expect_head, segments });
  });
  router.post('/audit/checkpoints', async (ctx) => {
    const { checkpoints } = parseInput(checkpointsBody, ctx.request.body);
    ctx.body = await checkCheckpoints(db, keys, checkpoints);
  });
  router.get('/audit/export', async (ctx) => {
    const filter = parseInput(filterQuery, ctx.query);
    ctx.type = 'application/x-ndjson';
    ctx.body = Readable.from(
      (async function* lines() {
        for await (const record of exportAudit(db, filter, segments)) yield `${JSON.stringify(record)}\n`;
      })(),
    );
  });
}
