import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Router, { type RouterContext } from '@koa/router';
import Koa from 'koa';
import {
  createDecider,
  type Decider,
  expressPermissions,
  koaPermissions,
  type PermissionOptions,
  type ResourceInput,
} from '../../src/client/index.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { loggedInUser } from '../helpers/users.ts';
import { API, createDecideClient } from './fixture.ts';

// What the service knows of its invoices: the attributes the policy's conditions look at.
const INVOICES: Record<string, { tenant: string; status: string }> = {
  'inv-acme': { tenant: 'acme', status: 'open' },
  'inv-globex': { tenant: 'globex', status: 'open' },
};
const invoiceAt = (id: string): ResourceInput => ({ type: 'Invoice', id, attrs: INVOICES[id] ?? {} });

/** A service on a free port whose GET /invoices/:id is guarded; `errors` holds what reached next(error). */
type App = { url: string; errors: unknown[]; close(): Promise<void> };

async function listen(server: Server, errors: unknown[]): Promise<App> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    errors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function koaService(decider: Decider, options: PermissionOptions<RouterContext>): Promise<App> {
  const errors: unknown[] = [];
  const app = new Koa();
  app.silent = true;
  app.on('error', (error) => errors.push(error));
  const router = new Router();
  const guard = koaPermissions(decider);
  router.get(
    '/invoices/:id',
    guard.requirePermission('read', (ctx: RouterContext) => invoiceAt(ctx.params.id ?? ''), options),
    (ctx) => {
      ctx.body = { id: ctx.params.id, decidedBy: (ctx.state.decision as { rule: string }).rule };
    },
  );
  app.use(router.routes());
  return listen(createServer(app.callback()), errors);
}

function expressService(decider: Decider, options: PermissionOptions<IncomingMessage>): Promise<App> {
  const errors: unknown[] = [];
  const guard = expressPermissions(decider).requirePermission(
    'read',
    (req: IncomingMessage) => invoiceAt(req.url?.split('/')[2] ?? ''),
    options,
  );
  const server = createServer((req, res) =>
    guard(req, res, (error) => {
      if (error) {
        errors.push(error);
        res.statusCode = 500;
        res.end();
        return;
      }
      const decision = (req as IncomingMessage & { decision?: { rule: string } }).decision;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: req.url?.split('/')[2], decidedBy: decision?.rule }));
    }),
  );
  return listen(server, errors);
}

const ADAPTERS = { Koa: koaService, 'Express (node:http)': expressService } as const;

describe('requirePermission', () => {
  let tg: TestInstance;
  let decider: Decider;
  let token: string;
  let otherApiToken: string;

  before(async () => {
    tg = await startTestInstance();
    assert.equal((await tg.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    decider = createDecider({ issuer: tg.issuer, ...(await createDecideClient(tg)) });
    const user = {
      username: 'carol',
      password: 'carol password',
      roles: ['accountant'],
      attrs: { tenant: 'acme' },
    };
    token = (await loggedInUser(tg, user, { audience: API })).accessToken;
    const other = { ...user, username: 'carol-elsewhere' };
    otherApiToken = (await loggedInUser(tg, other, { audience: 'https://other.example.test' })).accessToken;
  });
  after(() => tg.close());

  const get = async (app: App, path: string, authorization?: string) => {
    const response = await fetch(`${app.url}${path}`, { headers: authorization ? { authorization } : {} });
    const text = await response.text();
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: response.headers.get('content-type')?.includes('json')
        ? (JSON.parse(text) as Record<string, unknown>)
        : { text },
    };
  };

  for (const [name, start] of Object.entries(ADAPTERS)) {
    describe(name, () => {
      let app: App;
      before(async () => {
        app = await start(decider, { audience: API });
      });
      after(() => app.close());

      it("lets the user's bearer token through to its own tenant's invoice", async () => {
        const { status, body } = await get(app, '/invoices/inv-acme', `Bearer ${token}`);
        assert.equal(status, 200);
        assert.deepEqual(body, { id: 'inv-acme', decidedBy: 'read-own-tenant' });
        assert.equal(
          (await get(app, '/invoices/inv-acme', `bearer ${token}`)).status,
          200,
          'scheme is case-insensitive',
        );
      });

      it("answers 403 for another tenant's invoice, with the reason", async () => {
        const { status, body } = await get(app, '/invoices/inv-globex', `Bearer ${token}`);
        assert.equal(status, 403);
        assert.deepEqual(body, { error: 'access_denied', error_description: 'no_matching_rule' });
      });

      it('answers 401 without a bearer token, or with something else in its place', async () => {
        for (const authorization of [
          undefined,
          `Basic ${token}`,
          'Bearer',
          `Bearer ${token} x`,
          `Token ${token}`,
        ]) {
          const { status, challenge, body } = await get(app, '/invoices/inv-acme', authorization);
          assert.equal(status, 401, String(authorization));
          assert.equal(challenge, 'Bearer');
          assert.equal(body.error, 'invalid_token');
        }
      });

      it('answers 401 invalid_token for a forged token and for a token of another API', async () => {
        const [header, payload] = token.split('.');
        const forged = await get(app, '/invoices/inv-acme', `Bearer ${header}.${payload}.AAAA`);
        assert.equal(forged.status, 401);
        assert.match(String(forged.challenge), /error="invalid_token"/);
        const elsewhere = await get(app, '/invoices/inv-acme', `Bearer ${otherApiToken}`);
        assert.deepEqual([elsewhere.status, elsewhere.body.error_description], [401, 'audience']);
      });
    });
  }

  it('takes the subject from the option when given, and answers 401 when it finds none', async () => {
    const app = await koaService(decider, {
      subject: (ctx) => {
        const id = ctx.get('x-user');
        return id ? { id, roles: ['accountant'], attrs: { tenant: 'acme' } } : undefined;
      },
    });
    try {
      assert.equal((await get(app, '/invoices/inv-acme', undefined)).status, 401);
      const response = await fetch(`${app.url}/invoices/inv-acme`, { headers: { 'x-user': 'u1' } });
      assert.equal(response.status, 200);
    } finally {
      await app.close();
    }
  });

  it('answers 503 when Tollgate is down: denied, but not forbidden', async () => {
    const down = createDecider({
      issuer: `http://127.0.0.1:${await freePort()}`,
      clientId: 'x',
      clientSecret: 'y',
    });
    for (const start of Object.values(ADAPTERS)) {
      const app = await start(down, { audience: API });
      try {
        const { status, body } = await get(app, '/invoices/inv-acme', `Bearer ${token}`);
        assert.deepEqual([status, body.error], [503, 'temporarily_unavailable']);
      } finally {
        await app.close();
      }
    }
  });

  it("hands Tollgate's refusals to the framework's error handling", async () => {
    const loud = createDecider({ issuer: tg.issuer, clientId: 'nobody', clientSecret: 'wrong' });
    for (const start of Object.values(ADAPTERS)) {
      const app = await start(loud, { audience: API });
      try {
        assert.equal((await get(app, '/invoices/inv-acme', `Bearer ${token}`)).status, 500);
        assert.equal((app.errors[0] as { error?: string }).error, 'invalid_client');
      } finally {
        await app.close();
      }
    }
  });
});
