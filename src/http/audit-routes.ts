import { Readable } from 'node:stream';
import type Router from '@koa/router';
import { z } from 'zod';
import { storedIdentifier } from '../admin/index.ts';
import { exportAudit, queryAudit, verifyAuditChain } from '../audit/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { parseInput } from './validate.ts';

const instant = z.iso
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

const pageQuery = filterQuery.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.coerce.number().int().min(0).optional(),
});

/**
 * `/admin/audit` (query, paged by seq), `/admin/audit/verify` (walk the hash chain) and
 * `/admin/audit/export` (JSON lines, for shipping to ELK or Loki). Mounted inside the admin
 * router (scope admin).
 */
export function addAuditRoutes(router: Router, db: DatabaseHandle): void {
  router.get('/audit', async (ctx) => {
    const query = parseInput(pageQuery, ctx.query);
    const events = await queryAudit(db, query);
    const last = events.at(-1);
    ctx.body = { events, next_after: events.length === query.limit && last ? last.seq : null };
  });
  router.get('/audit/verify', async (ctx) => {
    ctx.body = await verifyAuditChain(db);
  });
  router.get('/audit/export', async (ctx) => {
    const filter = parseInput(filterQuery, ctx.query);
    ctx.type = 'application/x-ndjson';
    ctx.body = Readable.from(
      (async function* lines() {
        for await (const record of exportAudit(db, filter)) yield `${JSON.stringify(record)}\n`;
      })(),
    );
  });
}
