import type { AddressInfo } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';

/**
 * A reference point between the bare node:http server and Tollgate: the same framework Tollgate
 * uses (Koa, @koa/router, @koa/bodyparser parsing JSON) answering POST /decide with a fixed JSON,
 * and nothing else (no middleware, no validation, no auth). What Tollgate cannot beat without
 * leaving this stack on the hot path. Run as a child; reports its port to the parent over IPC.
 */
const answer = { allow: true, reason: 'allowed', rule: 'fixed', policy: { resource: 'Invoice', version: 1 } };

const router = new Router();
router.post('/decide', bodyParser({ enableTypes: ['json'], jsonLimit: '128kb' }), (ctx) => {
  ctx.body = answer;
});

const app = new Koa();
app.use(router.routes()).use(router.allowedMethods());

const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});

process.once('SIGTERM', () => server.close(() => process.exit(0)));
