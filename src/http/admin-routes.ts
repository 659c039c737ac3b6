import Router from '@koa/router';
import {
  type apiUseCases,
  BUILTIN_API,
  type ClientUseCases,
  createApiInput,
  createClientInput,
  createUserInput,
  userUseCases,
} from '../admin/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { createGatewayInput, type GatewayCredentials } from '../gateway/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';
import type { PolicyStore } from '../pdp/index.ts';
import { requireScope } from './admin-auth.ts';
import { parseBody, requireJson } from './body.ts';
import { addPolicyRoutes } from './policy-routes.ts';
import { parseInput } from './validate.ts';

export interface AdminRouteDeps {
  db: DatabaseHandle;
  verifier: AccessTokenVerifier;
  ring: SigningKeyRing;
  clients: ClientUseCases;
  apis: ReturnType<typeof apiUseCases>;
  policies: PolicyStore;
  gateways: GatewayCredentials;
}

/** `/admin/*`: the API behind the `tollgate` CLI; every route needs a token with scope `admin`. */
export function adminRoutes(deps: AdminRouteDeps): Router {
  const users = userUseCases(deps.db);
  const apis = deps.apis;
  const router = new Router({ prefix: '/admin' });
  router.use(requireScope(deps.verifier, BUILTIN_API.audience, 'admin'), requireJson, parseBody(['json']));

  router.post('/clients', async (ctx) => {
    ctx.status = 201;
    ctx.body = await deps.clients.create(parseInput(createClientInput, ctx.request.body));
  });
  router.get('/clients', async (ctx) => {
    ctx.body = { clients: await deps.clients.list() };
  });
  router.delete('/clients/:id', async (ctx) => {
    await deps.clients.delete(ctx.params.id ?? '');
    ctx.status = 204;
  });

  router.post('/users', async (ctx) => {
    ctx.status = 201;
    ctx.body = await users.create(parseInput(createUserInput, ctx.request.body));
  });
  router.get('/users', async (ctx) => {
    ctx.body = { users: await users.list() };
  });
  router.delete('/users/:id', async (ctx) => {
    await users.delete(ctx.params.id ?? '');
    ctx.status = 204;
  });

  router.post('/apis', async (ctx) => {
    ctx.status = 201;
    ctx.body = await apis.create(parseInput(createApiInput, ctx.request.body));
  });
  router.get('/apis', async (ctx) => {
    ctx.body = { apis: await apis.list() };
  });

  router.get('/keys', async (ctx) => {
    ctx.body = { keys: deps.ring.list() };
  });
  router.post('/keys/rotate', async (ctx) => {
    ctx.status = 201;
    ctx.body = { keys: await deps.ring.rotate() };
  });
  router.post('/gateways', async (ctx) => {
    ctx.status = 201;
    ctx.body = await deps.gateways.create(parseInput(createGatewayInput, ctx.request.body));
  });
  router.get('/gateways', async (ctx) => {
    ctx.body = { gateways: await deps.gateways.list() };
  });
  router.delete('/gateways/:name', async (ctx) => {
    await deps.gateways.delete(ctx.params.name ?? '');
    ctx.status = 204;
  });
  addPolicyRoutes(router, deps.policies);
  return router;
}
