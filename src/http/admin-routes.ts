import Router from '@koa/router';
import type { Context } from 'koa';
import {
  type ApiUseCases,
  BUILTIN_API,
  type ClientUseCases,
  createApiInput,
  createClientInput,
  createUserInput,
  grantInput,
  storedIdentifier,
  type UserUseCases,
} from '../admin/index.ts';
import type { AuditKeys, AuditSink, InputHasher } from '../audit/index.ts';
import { parseInput, parseStoredName, TollgateError } from '../common/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { createGatewayInput, type GatewayCredentials, updateGatewayInput } from '../gateway/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import type { AccessTokenVerifier } from '../oidc/index.ts';
import type { PolicyStore } from '../pdp/index.ts';
import { type Caller, type CurrentGrants, requireScope } from './admin-auth.ts';
import { addAuditRoutes } from './audit-routes.ts';
import { parseBody, requireJson } from './body.ts';
import { addPolicyRoutes } from './policy-routes.ts';

/** What the admin routes use; the use cases come built, with their caches wired. */
export interface AdminRouteDeps {
  verifier: AccessTokenVerifier;
  /** Every client's current grants: the caller's is re-checked on every request (issue 9). */
  grants: CurrentGrants;
  clients: ClientUseCases;
  users: UserUseCases;
  apis: ApiUseCases;
  ring: Pick<SigningKeyRing, 'list' | 'rotate'>;
  gateways: Pick<GatewayCredentials, 'create' | 'list' | 'get' | 'update' | 'delete'>;
  policies: PolicyStore;
  audit: AuditSink;
  /** The audit chain is read from here and verified under these keys (only the service holds them). */
  db: DatabaseHandle;
  auditKeys: AuditKeys;
  /** Where decision segments are read from (audit/segments.ts); undefined on PostgreSQL. */
  auditSegments: string | undefined;
  /** How the decision log hashed recorded inputs, for policy previews. */
  inputHasher: InputHasher;
}

/** `/admin/*`: the API behind the `tollgate` CLI; every route needs a token with scope `admin`. */
export function adminRoutes(deps: AdminRouteDeps): Router {
  const { users, apis } = deps;
  const router = new Router({ prefix: '/admin', sensitive: true });
  // Issue 9: only a client acting for itself whose current grant includes `admin`.
  const admin = { audience: BUILTIN_API.audience, scope: 'admin', grants: deps.grants, clientOnly: true };
  router.use(requireScope(deps.verifier, admin), requireJson, parseBody(['json']));

  /** Every change leaves an audit event: who, what, and the state before and after (no secrets). */
  const changed = (
    ctx: Context,
    action: string,
    target: string,
    states: { before?: unknown; after?: unknown },
  ) =>
    deps.audit.record({
      type: 'admin.change',
      actor: callerOf(ctx),
      ip: ctx.ip,
      data: { action, target, ...states },
    });

  router.post('/clients', async (ctx) => {
    const created = await deps.clients.create(parseInput(createClientInput, ctx.request.body));
    const after = await deps.clients.get(created.client_id);
    changed(ctx, 'client.create', created.client_id, { after });
    ctx.status = 201;
    ctx.body = created;
  });
  router.get('/clients', async (ctx) => {
    ctx.body = { clients: await deps.clients.list() };
  });
  router.delete('/clients/:id', async (ctx) => {
    const id = parseStoredName(storedIdentifier, ctx.params.id, 'client');
    const before = await deps.clients.get(id);
    await deps.clients.delete(id);
    changed(ctx, 'client.delete', id, { before });
    ctx.status = 204;
  });
  // Issue 9: a client's APIs and scopes change one grant at a time, each change audited.
  router.put('/clients/:id/grants', async (ctx) => {
    const id = ctx.params.id ?? '';
    const { before, after } = await deps.clients.grant(id, parseInput(grantInput, ctx.request.body));
    changed(ctx, 'client.grant', id, { before, after });
    ctx.body = after;
  });
  router.delete('/clients/:id/grants', async (ctx) => {
    const id = ctx.params.id ?? '';
    const api = ctx.query.api;
    if (typeof api !== 'string' || api === '')
      throw new TollgateError('invalid_request', 'api: is required once (the audience to ungrant)');
    const before = await deps.clients.ungrant(id, api);
    changed(ctx, 'client.ungrant', id, { before });
    ctx.status = 204;
  });

  router.post('/users', async (ctx) => {
    const input = parseInput(createUserInput, ctx.request.body);
    const created = await users.create(input);
    const after = await users.get(created.id);
    changed(ctx, 'user.create', created.id, { after });
    ctx.status = 201;
    ctx.body = created;
  });
  router.get('/users', async (ctx) => {
    ctx.body = { users: await users.list() };
  });
  router.delete('/users/:id', async (ctx) => {
    const id = parseStoredName(storedIdentifier, ctx.params.id, 'user');
    const before = await users.get(id);
    await users.delete(id);
    changed(ctx, 'user.delete', id, { before });
    ctx.status = 204;
  });
  for (const action of ['disable', 'enable'] as const) {
    router.post(`/users/:id/${action}`, async (ctx) => {
      const id = ctx.params.id ?? '';
      const before = await users.get(id);
      const after = await users.setDisabled(id, action === 'disable');
      changed(ctx, `user.${action}`, id, { before, after });
      ctx.body = after;
    });
  }

  router.post('/apis', async (ctx) => {
    const created = await apis.create(parseInput(createApiInput, ctx.request.body));
    changed(ctx, 'api.create', created.audience, { after: created });
    ctx.status = 201;
    ctx.body = created;
  });
  router.get('/apis', async (ctx) => {
    ctx.body = { apis: await apis.list() };
  });

  router.get('/keys', async (ctx) => {
    ctx.body = { keys: deps.ring.list() };
  });
  router.post('/keys/rotate', async (ctx) => {
    const before = deps.ring.list();
    const keys = await deps.ring.rotate();
    deps.audit.record({
      type: 'key.rotated',
      actor: callerOf(ctx),
      ip: ctx.ip,
      data: { trigger: 'admin', before, after: keys },
    });
    ctx.status = 201;
    ctx.body = { keys };
  });

  router.post('/gateways', async (ctx) => {
    const { key, ...after } = await deps.gateways.create(parseInput(createGatewayInput, ctx.request.body));
    changed(ctx, 'gateway.create', after.name, { after });
    ctx.status = 201;
    ctx.body = { ...after, key };
  });
  router.get('/gateways', async (ctx) => {
    ctx.body = { gateways: await deps.gateways.list() };
  });
  router.put('/gateways/:name/apis', async (ctx) => {
    const name = ctx.params.name ?? '';
    const before = await deps.gateways.get(name);
    const after = await deps.gateways.update(name, parseInput(updateGatewayInput, ctx.request.body));
    changed(ctx, 'gateway.update', name, { before, after });
    ctx.body = after;
  });
  router.delete('/gateways/:name', async (ctx) => {
    const name = parseStoredName(storedIdentifier, ctx.params.name, 'gateway');
    const before = await deps.gateways.get(name);
    await deps.gateways.delete(name);
    changed(ctx, 'gateway.delete', name, { before });
    ctx.status = 204;
  });
  addPolicyRoutes(router, deps);
  addAuditRoutes(router, deps.db, deps.auditKeys, deps.auditSegments);
  return router;
}

function callerOf(ctx: Context): string | undefined {
  return (ctx.state as { caller?: Caller }).caller?.clientId;
}
