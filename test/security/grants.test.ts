import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import * as client from 'openid-client';
import pino from 'pino';
import { migrations } from '../../migrations/index.ts';
import { digestSecret } from '../../src/common/index.ts';
import { startTollgate } from '../../src/compose/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../src/db/index.ts';
import { Browser, loginThroughForms } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createPostgresDatabase, ENGINE } from '../helpers/database.ts';
import { type CreatedClient, createApi, createClient, createUser } from '../helpers/fixtures.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

const TOLLGATE = 'urn:tollgate';
const APP = 'https://app-api.example.test';
const OTHER = 'https://other-api.example.test';
const INVOICES = 'https://invoices.example.test';
const REDIRECT = 'https://spa.example.test/cb';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

type OAuthError = { error?: string; error_description?: string; access_token?: string };

async function tokenError(response: Response): Promise<OAuthError & { status: number }> {
  return { status: response.status, ...((await response.json()) as OAuthError) };
}

/** Polls `probe` until it returns true; resolves to the milliseconds it took. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await probe()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not within ${ms} ms`);
}

/** Issue 9 §1: a client gets only the APIs and scopes it was granted. Each test is the attack. */
describe('grants: a client gets only the APIs and scopes it was registered for', () => {
  let tg: TestInstance;
  let appClient: CreatedClient;
  let spa: CreatedClient;

  before(async () => {
    tg = await startTestInstance({ AUDIT_FLUSH_MS: '50' });
    // An app API that happens to define its own `admin` scope.
    await createApi(tg, { audience: APP, scopes: ['admin', 'read', 'write'] });
    await createApi(tg, { audience: OTHER, scopes: ['read', 'other:only'] });
    await createApi(tg, { audience: INVOICES, scopes: ['invoices:read'] });
    await createUser(tg, { username: 'mallory', password: 'mallory password', roles: ['accountant'] });
    appClient = await createClient(tg, {
      name: 'app-service',
      grant_types: ['client_credentials'],
      api: APP,
      scope: 'admin read',
      roles: ['billing'],
    });
    spa = await createClient(tg, {
      name: 'spa',
      grant_types: ['authorization_code'],
      public: true,
      redirect_uris: [REDIRECT],
      api: APP,
      scope: 'openid offline_access read',
    });
  });
  after(() => tg.close());

  const adminStatus = async (instance: TestInstance, token: string) =>
    (await fetch(`${instance.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } })).status;

  /** A browser's authorization request; answers where the provider sends it back. */
  async function authorize(clientId: string, params: Record<string, string>): Promise<URL> {
    const url = new URL(`${tg.url}/auth`);
    const all = {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      state: 'st',
      ...params,
    };
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
    const response = await fetch(url, { redirect: 'manual' });
    assert.equal(response.status, 303, await response.text());
    return new URL(response.headers.get('location') ?? '');
  }

  it('refuses an app client whose API defines `admin` a token for urn:tollgate: invalid_target, /admin stays shut', async () => {
    const attack = await tokenError(
      await requestToken(tg.url, appClient, { scope: 'admin', resource: TOLLGATE }),
    );
    assert.equal(attack.status, 400);
    assert.equal(attack.error, 'invalid_target');
    assert.equal(attack.access_token, undefined);
    // Without a resource it gets its own API's `admin`, which the admin API does not accept.
    const own = (await (await requestToken(tg.url, appClient, { scope: 'admin' })).json()) as OAuthError;
    assert.equal(decodeJwt(own.access_token ?? '').aud, APP);
    assert.equal(await adminStatus(tg, own.access_token ?? ''), 401);
  });

  it('refuses a public SPA user login resource=urn:tollgate scope="openid admin" at /auth with invalid_target', async () => {
    const location = await authorize(spa.client_id, { scope: 'openid admin', resource: TOLLGATE });
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_target');
    assert.equal(location.searchParams.get('code'), null);
    // Without a resource, `admin` is no scope of the SPA's grant.
    const unnamed = await authorize(spa.client_id, { scope: 'openid admin' });
    assert.equal(unnamed.searchParams.get('error'), 'invalid_scope');
  });

  it('refuses user logins urn:tollgate even for a browser client explicitly granted it, at /auth and on refresh', async () => {
    const granted = await createClient(tg, {
      name: 'spa-with-tollgate',
      grant_types: ['authorization_code'],
      public: true,
      redirect_uris: [REDIRECT],
      grants: [
        { api: TOLLGATE, scopes: ['admin'] },
        { api: APP, scopes: ['read'] },
      ],
      scope: 'openid offline_access',
    });
    const named = await authorize(granted.client_id, { scope: 'openid admin', resource: TOLLGATE });
    assert.equal(named.searchParams.get('error'), 'invalid_target');
    const unnamed = await authorize(granted.client_id, { scope: 'openid admin' });
    assert.equal(unnamed.searchParams.get('error'), 'invalid_scope');

    // A real login for APP, then its refresh token asks for urn:tollgate.
    const config = await client.discovery(new URL(tg.issuer), granted.client_id, {}, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access read',
      resource: APP,
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, {
      username: 'mallory',
      password: 'mallory password',
    });
    const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
    assert.equal(decodeJwt(tokens.access_token).aud, APP);
    const refresh = await fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: granted.client_id,
        refresh_token: tokens.refresh_token ?? '',
        resource: TOLLGATE,
      }),
    });
    const refused = await tokenError(refresh);
    assert.equal(refused.status, 400);
    assert.equal(refused.error, 'invalid_target');
    assert.equal(refused.access_token, undefined);
  });

  it('refuses a client a token for an API it holds no grant for (invalid_target), and scopes outside its grant (invalid_scope)', async () => {
    for (const params of [{ resource: OTHER }, { resource: OTHER, scope: 'read' }] as Record<
      string,
      string
    >[]) {
      const refused = await tokenError(await requestToken(tg.url, appClient, params));
      assert.equal(refused.status, 400, JSON.stringify(params));
      assert.equal(refused.error, 'invalid_target', JSON.stringify(params));
    }
    const outside = await tokenError(
      await requestToken(tg.url, appClient, { resource: APP, scope: 'read write' }),
    );
    assert.equal(outside.error, 'invalid_scope');
    assert.match(outside.error_description ?? '', /write/);
    const browser = await authorize(spa.client_id, { scope: 'openid read', resource: OTHER });
    assert.equal(browser.searchParams.get('error'), 'invalid_target');
  });

  it('picks the one grant a requested scope belongs to, and asks for resource (invalid_target) when it is ambiguous', async () => {
    const both = await createClient(tg, {
      name: 'two-grants',
      grant_types: ['client_credentials'],
      grants: [
        { api: APP, scopes: ['read'] },
        { api: OTHER, scopes: ['read', 'other:only'] },
      ],
    });
    const picked = (await (await requestToken(tg.url, both, { scope: 'other:only' })).json()) as OAuthError;
    assert.equal(decodeJwt(picked.access_token ?? '').aud, OTHER);
    for (const params of [{ scope: 'read' }, {}] as Record<string, string>[]) {
      const ambiguous = await tokenError(await requestToken(tg.url, both, params));
      assert.equal(ambiguous.error, 'invalid_target', JSON.stringify(params));
      assert.match(ambiguous.error_description ?? '', /resource is required/);
    }
  });

  it('refuses at creation a scope that exists only on another API (metrics with api invoices)', async () => {
    const shorthand = await tg.admin$('POST', '/clients', {
      name: 'invoices-worker',
      grant_types: ['client_credentials'],
      api: INVOICES,
      scope: 'invoices:read metrics',
    });
    assert.equal(shorthand.status, 400);
    const body = (await shorthand.json()) as OAuthError;
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description ?? '', /^scope: metrics is not a scope of API https:\/\/invoices/);
    const listed = (await (await tg.admin$('GET', '/clients')).json()) as { clients: { name: string }[] };
    assert.equal(
      listed.clients.some((c) => c.name === 'invoices-worker'),
      false,
    );
    const grants = await tg.admin$('POST', '/clients', {
      name: 'invoices-worker',
      grant_types: ['client_credentials'],
      grants: [{ api: INVOICES, scopes: ['invoices:read', 'metrics'] }],
    });
    assert.match(
      ((await grants.json()) as OAuthError).error_description ?? '',
      /^grants\[0\]\.scopes: metrics/,
    );
  });

  it('refuses at creation --scope decide without --api, and a grantless client asking scope=decide gets invalid_scope', async () => {
    const created = await tg.admin$('POST', '/clients', {
      name: 'orphan',
      grant_types: ['client_credentials'],
      scope: 'decide',
    });
    assert.equal(created.status, 400);
    const body = (await created.json()) as OAuthError;
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description ?? '', /^scope: decide names no API/);
    const grantless = await createClient(tg, { name: 'grantless', grant_types: ['client_credentials'] });
    const asked = await tokenError(await requestToken(tg.url, grantless, { scope: 'decide' }));
    assert.equal(asked.status, 400);
    assert.equal(asked.error, 'invalid_scope');
    assert.equal(asked.access_token, undefined);
  });

  it('shuts /admin, /decide and /metrics to a token the moment its client is ungranted or deleted', async () => {
    const backdoor = await createClient(tg, {
      name: 'second-admin',
      grant_types: ['client_credentials'],
      grants: [{ api: TOLLGATE, scopes: ['admin', 'decide', 'metrics'] }],
    });
    const token = (
      (await (await requestToken(tg.url, backdoor, { scope: 'admin decide metrics' })).json()) as OAuthError
    ).access_token as string;
    const bearer = { authorization: `Bearer ${token}` };
    const decide = () =>
      fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { id: 'u1' }, action: 'read', resource: { type: 'Invoice' } }),
      });
    assert.equal(await adminStatus(tg, token), 200);
    assert.notEqual((await decide()).status, 403);
    assert.equal((await fetch(`${tg.url}/metrics`, { headers: bearer })).status, 200);

    const ungrant = await tg.admin$(
      'DELETE',
      `/clients/${backdoor.client_id}/grants?api=${encodeURIComponent(TOLLGATE)}`,
    );
    assert.equal(ungrant.status, 204);
    const refused = await fetch(`${tg.url}/admin/clients`, { headers: bearer });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as OAuthError).error, 'insufficient_scope');
    assert.equal((await decide()).status, 403);
    assert.equal((await fetch(`${tg.url}/metrics`, { headers: bearer })).status, 403);
    const again = await tokenError(
      await requestToken(tg.url, backdoor, { scope: 'admin', resource: TOLLGATE }),
    );
    assert.equal(again.error, 'invalid_target');

    const doomed = await createClient(tg, {
      name: 'third-admin',
      grant_types: ['client_credentials'],
      api: TOLLGATE,
      scope: 'admin',
    });
    const doomedToken = (
      (await (await requestToken(tg.url, doomed, { scope: 'admin' })).json()) as OAuthError
    ).access_token as string;
    assert.equal(await adminStatus(tg, doomedToken), 200);
    assert.equal((await tg.admin$('DELETE', `/clients/${doomed.client_id}`)).status, 204);
    assert.equal(await adminStatus(tg, doomedToken), 403);
  });

  it('records every grant change as an admin.change audit event', async () => {
    const target = await createClient(tg, { name: 'audited', grant_types: ['client_credentials'] });
    const put = await tg.admin$('PUT', `/clients/${target.client_id}/grants`, { api: APP, scopes: ['read'] });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { api: APP, scopes: ['read'], introspect: false });
    const bad = await tg.admin$('PUT', `/clients/${target.client_id}/grants`, { api: APP, scopes: ['nope'] });
    assert.match(
      ((await bad.json()) as OAuthError).error_description ?? '',
      /^scopes: nope is not a scope of API/,
    );
    const del = await tg.admin$(
      'DELETE',
      `/clients/${target.client_id}/grants?api=${encodeURIComponent(APP)}`,
    );
    assert.equal(del.status, 204);
    await within(3000, async () => {
      const events = (await (await tg.admin$('GET', '/audit?type=admin.change')).json()) as {
        events: { data: { action: string; target: string } }[];
      };
      const mine = events.events.filter((e) => e.data.target === target.client_id).map((e) => e.data.action);
      return mine.includes('client.grant') && mine.includes('client.ungrant');
    });
  });

  it('issues the roles claim only into audiences the client was granted', async () => {
    const own = (await (await requestToken(tg.url, appClient, { scope: 'read' })).json()) as OAuthError;
    assert.deepEqual(decodeJwt(own.access_token ?? '').roles, ['billing']);
    const foreign = await tokenError(await requestToken(tg.url, appClient, { resource: OTHER }));
    assert.equal(foreign.error, 'invalid_target');
    assert.equal(foreign.access_token, undefined);
    const builtin = await tokenError(await requestToken(tg.url, appClient, { resource: TOLLGATE }));
    assert.equal(builtin.error, 'invalid_target');
  });

  it('lets a client introspect only its own tokens and those of audiences it was granted introspection for', async () => {
    const introspect = async (caller: CreatedClient, token: string) => {
      const basic = Buffer.from(`${caller.client_id}:${caller.client_secret}`).toString('base64');
      const response = await fetch(`${tg.url}/token/introspection`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as { active: boolean; aud?: string };
    };
    const nosy = await createClient(tg, {
      name: 'nosy',
      grant_types: ['client_credentials'],
      api: OTHER,
      scope: 'read',
    });
    const rs = await createClient(tg, {
      name: 'app-resource-server',
      grant_types: ['client_credentials'],
      grants: [{ api: APP, scopes: [], introspect: true }],
    });
    const otherRs = await createClient(tg, {
      name: 'other-resource-server',
      grant_types: ['client_credentials'],
      grants: [{ api: OTHER, scopes: [], introspect: true }],
    });
    // A JWT access token of the app client, for APP.
    const jwt = ((await (await requestToken(tg.url, appClient, { scope: 'read' })).json()) as OAuthError)
      .access_token as string;
    assert.equal((await introspect(appClient, jwt)).active, true);
    assert.deepEqual(await introspect(nosy, jwt), { active: false });
    assert.deepEqual(await introspect(otherRs, jwt), { active: false });
    assert.equal((await introspect(rs, jwt)).aud, APP);

    // oidc-provider's own format: a confidential web client's refresh token for APP.
    const web = await createClient(tg, {
      name: 'web-introspected',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      api: APP,
      scope: 'openid offline_access read',
    });
    const config = await client.discovery(
      new URL(tg.issuer),
      web.client_id,
      {},
      client.ClientSecretBasic(web.client_secret),
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access read',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, {
      username: 'mallory',
      password: 'mallory password',
    });
    const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
    const refresh = tokens.refresh_token ?? '';
    assert.equal((await introspect(web, refresh)).active, true);
    assert.deepEqual(await introspect(nosy, refresh), { active: false });
    assert.deepEqual(await introspect(otherRs, refresh), { active: false });
    assert.equal((await introspect(rs, refresh)).active, true);

    // Granted with `client grant --introspect` later, and taken away again.
    await tg.admin$('PUT', `/clients/${nosy.client_id}/grants`, { api: APP, scopes: [], introspect: true });
    assert.equal((await introspect(nosy, jwt)).active, true);
    await tg.admin$('PUT', `/clients/${nosy.client_id}/grants`, { api: APP, scopes: [] });
    assert.deepEqual(await introspect(nosy, jwt), { active: false });
  });

  it('shuts /admin to an ungranted or deleted client on a second instance within 1 s', {
    // Two instances share only a PostgreSQL database.
    skip: skipUnless('postgres'),
  }, async () => {
    const second = await startTestInstance({}, { shareWith: tg });
    try {
      for (const remove of ['ungrant', 'delete'] as const) {
        const other = await createClient(tg, {
          name: `remote-${remove}`,
          grant_types: ['client_credentials'],
          api: TOLLGATE,
          scope: 'admin',
        });
        const token = (
          (await (await requestToken(second.url, other, { scope: 'admin' })).json()) as OAuthError
        ).access_token as string;
        // Created on the first instance: the second learns of the grant by NOTIFY.
        await within(1000, async () => (await adminStatus(second, token)) === 200);
        const path =
          remove === 'ungrant'
            ? `/clients/${other.client_id}/grants?api=${encodeURIComponent(TOLLGATE)}`
            : `/clients/${other.client_id}`;
        assert.equal((await tg.admin$('DELETE', path)).status, 204);
        const ms = await within(1000, async () => (await adminStatus(second, token)) === 403);
        assert.ok(ms <= 1000, `${remove} reached the second instance after ${ms} ms`);
      }
    } finally {
      await second.close();
    }
  });
});

describe('migration 0005_client_grants', () => {
  const secret = 'old-style client secret of enough length';
  let database: { handle: DatabaseHandle; drop(): Promise<void> };
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tollgate-grants-migration-'));
    if (ENGINE === 'postgres') {
      const created = await createPostgresDatabase();
      const handle = await openDatabase({ kind: 'postgres', url: created.url });
      database = {
        handle,
        drop: async () => {
          await handle.close();
          await created.drop();
        },
      };
    } else {
      // A blank database (initdb only), not the template's, which has every migration.
      const handle = await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'db'), template: false });
      database = { handle, drop: () => handle.close() };
    }
  });
  after(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const migrator = (names: string[]) =>
    new Migrator({
      db: database.handle.db as never,
      provider: {
        getMigrations: async () => Object.fromEntries(names.map((n) => [n, migrations[n] as never])),
      },
    });

  async function insertOldClient(id: string, defaultApi: string | null, scopes: string[]) {
    const metadata = {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      post_logout_redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      tollgate_scopes: scopes,
    };
    await sql`insert into clients (client_id, name, secret_digest, metadata, roles, default_api)
      values (${id}, ${id}, ${digestSecret(secret)}, ${JSON.stringify(metadata)}::jsonb, '[]'::jsonb, ${defaultApi})`.execute(
      database.handle.db,
    );
  }

  it('moves an old-style client row into grants, drops scopes of other APIs, and serves tokens from them', async () => {
    const before4 = Object.keys(migrations).filter((n) => n < '0005');
    assert.equal((await migrator(before4).migrateToLatest()).error, undefined);
    await sql`insert into apis (id, audience, name, scopes, signing_alg, access_token_ttl, builtin) values
      ('api_tollgate', 'urn:tollgate', 'Tollgate', '["admin","decide","metrics"]'::jsonb, 'ES256', 300, true),
      ('api_inv', ${INVOICES}, 'Invoices', '["invoices:read"]'::jsonb, 'RS256', 300, false)`.execute(
      database.handle.db,
    );
    await insertOldClient('cl_old_worker', INVOICES, ['invoices:read', 'metrics', 'ghost']);
    await insertOldClient('cl_old_orphan', null, ['decide']);
    await insertOldClient('cl_old_admin', TOLLGATE, ['admin', 'decide', 'metrics']);

    assert.deepEqual(
      await migrateToLatest(database.handle.db),
      Object.keys(migrations).filter((n) => n >= '0005'),
    );
    const rows = await database.handle.db
      .selectFrom('client_grants')
      .select(['client_id', 'audience', 'scopes', 'introspect'])
      .orderBy('client_id')
      .execute();
    assert.deepEqual(rows, [
      {
        client_id: 'cl_old_admin',
        audience: TOLLGATE,
        scopes: ['admin', 'decide', 'metrics'],
        introspect: false,
      },
      { client_id: 'cl_old_worker', audience: INVOICES, scopes: ['invoices:read'], introspect: false },
    ]);
    const worker = await database.handle.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', 'cl_old_worker')
      .executeTakeFirstOrThrow();
    assert.equal('tollgate_scopes' in worker.metadata, false);
    assert.equal('default_api' in worker, false);

    // The migrated clients over real HTTP.
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      SHUTDOWN_DRAIN_MS: '0',
    });
    const tollgate = await startTollgate(config, {
      logger: pino({ level: 'silent' }),
      db: database.handle,
      host: '127.0.0.1',
    });
    try {
      const creds = (id: string) => ({ client_id: id, client_secret: secret });
      const ok = (await (
        await requestToken(tollgate.url, creds('cl_old_worker'), { scope: 'invoices:read' })
      ).json()) as OAuthError;
      assert.equal(decodeJwt(ok.access_token ?? '').aud, INVOICES);
      const dropped = await tokenError(
        await requestToken(tollgate.url, creds('cl_old_worker'), { scope: 'metrics' }),
      );
      assert.equal(dropped.error, 'invalid_scope');
      const builtin = await tokenError(
        await requestToken(tollgate.url, creds('cl_old_worker'), { scope: 'metrics', resource: TOLLGATE }),
      );
      assert.equal(builtin.error, 'invalid_target');
      const orphan = await tokenError(
        await requestToken(tollgate.url, creds('cl_old_orphan'), { scope: 'decide' }),
      );
      assert.equal(orphan.error, 'invalid_scope');
      const admin = (await (
        await requestToken(tollgate.url, creds('cl_old_admin'), { scope: 'admin' })
      ).json()) as OAuthError;
      const listed = await fetch(`${tollgate.url}/admin/clients`, {
        headers: { authorization: `Bearer ${admin.access_token}` },
      });
      assert.equal(listed.status, 200);
    } finally {
      await tollgate.close();
    }

    // Down: the first grant becomes default_api again, its scopes the flat list.
    const down = await migrator(Object.keys(migrations)).migrateTo('0004_audit');
    assert.equal(down.error, undefined);
    const restored = (
      await sql<{ client_id: string; default_api: string | null; scopes: unknown }>`
      select client_id, default_api, metadata->'tollgate_scopes' as scopes from clients order by client_id`.execute(
        database.handle.db,
      )
    ).rows;
    assert.deepEqual(restored, [
      { client_id: 'cl_old_admin', default_api: TOLLGATE, scopes: ['admin', 'decide', 'metrics'] },
      { client_id: 'cl_old_orphan', default_api: null, scopes: null },
      { client_id: 'cl_old_worker', default_api: INVOICES, scopes: ['invoices:read'] },
    ]);
  });
});
