import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FetchLike } from '../../src/client/index.ts';
import { createClient } from '../helpers/fixtures.ts';
import type { TestInstance } from '../helpers/instance.ts';

export const API = 'https://invoices.example.test';

/** A service's client for Tollgate's decide API (client credentials, scope decide). */
export async function createDecideClient(tg: TestInstance, name = 'invoice-service') {
  const created = await createClient(tg, {
    name,
    grant_types: ['client_credentials'],
    scope: 'decide',
    api: 'urn:tollgate',
  });
  assert.ok(created.client_secret);
  return { clientId: created.client_id, clientSecret: created.client_secret };
}

/** The global fetch, recording each request's method, path and body as Tollgate receives them. */
export function countingFetch() {
  const requests: { method: string; path: string; body: unknown }[] = [];
  const fetch: FetchLike = (url, init) => {
    requests.push({
      method: init.method,
      path: new URL(url).pathname,
      body: init.body === undefined || init.body.startsWith('grant_type') ? init.body : JSON.parse(init.body),
    });
    return globalThis.fetch(url, init);
  };
  const count = (path: string) => requests.filter((request) => request.path === path).length;
  return { fetch, requests, count };
}

/**
 * A stand-in at its own issuer URL: discovery names the real Tollgate's token endpoint (so the
 * caller token is real), and `/decide` hangs or fails as `mode` says.
 */
export async function startStandIn(tg: TestInstance, mode: { decide: 'hang' | 503 }) {
  let issuer = '';
  const server: Server = createServer((req, res) => {
    if (req.url?.endsWith('/.well-known/openid-configuration')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, token_endpoint: `${tg.url}/token` }));
      return;
    }
    if (mode.decide === 'hang') return; // never answers
    res.statusCode = mode.decide;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: 'server_error', error_description: 'down for maintenance' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
