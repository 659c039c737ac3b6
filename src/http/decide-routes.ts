import Router from '@koa/router';
import type { Context } from 'koa';
import { type DecideStep, runChain } from './decide-chain.ts';

/**
 * `POST /decide` and `POST /decide/plan` in Koa, running the same named steps as the node:http
 * fast path (decide-chain.ts). The fast path answers every POST to these two paths, query or
 * not; this router serves the same chains should a request reach Koa all the same (an embedder
 * mounting the Koa app without the fast path).
 */
export function decideRoutes(chains: { check: DecideStep[]; plan: DecideStep[] }): Router {
  const router = new Router({ sensitive: true, strict: true });
  router.post('/decide', async function decide(ctx: Context) {
    ctx.body = await runChain(chains.check, ctx.req);
  });
  router.post('/decide/plan', async function plan(ctx: Context) {
    ctx.body = await runChain(chains.plan, ctx.req);
  });
  return router;
}
