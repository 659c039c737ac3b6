import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  apiUseCases,
  type ClientUseCases,
  clientUseCases,
  createApiInput,
  createClientInput,
} from '../../src/admin/index.ts';
import { digestSecret } from '../../src/common/index.ts';
import { clientGrantQueries, clientQueries } from '../../src/db/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { parsed, rejectsWith } from './admin-fixtures.ts';

const BOOKS = 'https://books.example.test';
const REDIRECT = 'https://app.example.test/cb';

describe('client use cases', () => {
  let database: TestDatabase;
  let clients: ClientUseCases;
  /** Client metadata handed to the OIDC provider's check; `refuse` makes the check fail. */
  const validated: Record<string, unknown>[] = [];
  let refuse: string | undefined;
  const changed: string[] = [];

  before(async () => {
    database = await openTestDatabase();
    const apis = apiUseCases(database.handle);
    await apis.ensureBuiltin();
    await apis.create(parsed(createApiInput, { audience: BOOKS, scopes: ['read', 'write'] }));
    clients = clientUseCases(
      database.handle,
      async (metadata) => {
        validated.push(metadata);
        if (refuse) throw { error: 'invalid_client_metadata', error_description: refuse };
      },
      (clientId) => {
        changed.push(clientId);
      },
    );
  });
  after(() => database.drop());
  beforeEach(() => {
    validated.length = 0;
    changed.length = 0;
    refuse = undefined;
  });

  const create = (body: Record<string, unknown>) => clients.create(parsed(createClientInput, body));
  const stored = (clientId: string) => clientQueries(database.handle.db).find(clientId);

  it('creates a machine client: a secret returned once and stored only as a digest, its grant, its roles', async () => {
    const created = await create({
      name: 'reporting',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: BOOKS,
      roles: ['reader'],
    });
    assert.match(created.client_id, /^cl_/);
    assert.ok(created.client_secret && created.client_secret.length >= 32);
    const row = await stored(created.client_id);
    assert.equal(row?.secret_digest, digestSecret(created.client_secret));
    assert.ok(!JSON.stringify(row).includes(created.client_secret), 'no secret in clear');
    const listed = (await clients.list()).find((c) => c.client_id === created.client_id);
    assert.deepEqual(
      { ...listed, created_at: undefined },
      {
        client_id: created.client_id,
        name: 'reporting',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        application_type: 'web',
        scope: '',
        grants: [{ api: BOOKS, scopes: ['read'], introspect: false }],
        roles: ['reader'],
        tls_client_certificate_bound_access_tokens: false,
        created_at: undefined,
      },
    );
    assert.equal(validated.length, 1, 'the metadata was checked before it was stored');
    assert.equal(validated[0]?.client_id, created.client_id);
    assert.deepEqual(changed, [created.client_id]);
  });

  it('creates a browser client with the OIDC scopes, refresh tokens and its redirect URIs', async () => {
    const created = await create({
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      scope: 'openid profile read',
      api: BOOKS,
    });
    const listed = (await clients.list()).find((c) => c.client_id === created.client_id);
    assert.deepEqual(listed?.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(listed?.redirect_uris, [REDIRECT]);
    assert.equal(listed?.scope, 'openid profile offline_access');
    assert.deepEqual(listed?.grants, [{ api: BOOKS, scopes: ['read'], introspect: false }]);
  });

  it('creates a public client without a secret', async () => {
    const created = await create({
      name: 'spa',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      public: true,
    });
    assert.equal(created.client_secret, undefined);
    assert.equal((await stored(created.client_id))?.secret_digest, null);
    const listed = (await clients.list()).find((c) => c.client_id === created.client_id);
    assert.equal(listed?.token_endpoint_auth_method, 'none');
  });

  it('gives every client its own id, even with the same name', async () => {
    const body = { name: 'twin', grant_types: ['client_credentials'] };
    const [a, b] = [await create(body), await create(body)];
    assert.notEqual(a.client_id, b.client_id);
    assert.notEqual(a.client_secret, b.client_secret);
    assert.equal((await clients.list()).filter((c) => c.name === 'twin').length, 2);
  });

  it('stores nothing when the OIDC provider refuses the metadata, and says why', async () => {
    const before = await clients.list();
    refuse = 'redirect_uris must use https';
    await rejectsWith(
      create({ name: 'bad', grant_types: ['client_credentials'] }),
      'invalid_request',
      /^client metadata: redirect_uris must use https$/,
    );
    assert.deepEqual(await clients.list(), before);
    assert.deepEqual(changed, []);
  });

  it('deletes a client with its grants, and answers not_found the second time', async () => {
    const { client_id } = await create({
      name: 'gone',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: BOOKS,
    });
    assert.equal((await clientGrantQueries(database.handle.db).listForClient(client_id)).length, 1);
    changed.length = 0;
    await clients.delete(client_id);
    assert.equal(await stored(client_id), undefined);
    assert.deepEqual(await clientGrantQueries(database.handle.db).listForClient(client_id), []);
    assert.deepEqual(changed, [client_id]);
    await rejectsWith(
      clients.delete(client_id),
      'not_found',
      new RegExp(`^client ${client_id} does not exist$`),
    );
  });

  describe('refuses grants that name no API or scope of it, naming the field, and stores nothing', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'an API that does not exist',
        { scope: 'read', api: 'https://nowhere.example.test' },
        /^api: no API with audience https:\/\/nowhere\.example\.test; create it first$/,
      ],
      [
        'a scope the API does not have',
        { scope: 'read delete', api: BOOKS },
        /^scope: delete is not a scope of API https:\/\/books\.example\.test \(its scopes: read write\)$/,
      ],
      ['a scope without an API', { scope: 'read' }, /^scope: read names no API; scopes are granted per API/],
      [
        'an API granted twice',
        {
          grants: [
            { api: BOOKS, scopes: ['read'] },
            { api: BOOKS, scopes: ['write'] },
          ],
        },
        /^grants\[1\]\.api: https:\/\/books\.example\.test is granted twice$/,
      ],
      [
        'a scope of a grant the API does not have',
        {
          grants: [
            { api: 'urn:tollgate', scopes: ['decide'] },
            { api: BOOKS, scopes: ['admin'] },
          ],
        },
        /^grants\[1\]\.scopes: admin is not a scope of API https:\/\/books\.example\.test/,
      ],
      [
        'scopes beside grants',
        { scope: 'read', grants: [{ api: BOOKS, scopes: ['read'] }] },
        /^scope: read names no API; with grants, put each API's scopes in its grant$/,
      ],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        const before = await clients.list();
        await rejectsWith(
          create({ name: 'refused', grant_types: ['client_credentials'], ...body }),
          'invalid_request',
          description,
        );
        assert.deepEqual(await clients.list(), before);
      });
    }
  });

  describe('refuses malformed input, naming the field', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no name', { grant_types: ['client_credentials'] }, /^name: /],
      ['no grant type', { name: 'x', grant_types: [] }, /^grant_types: needs at least one grant$/],
      ['an unknown grant type', { name: 'x', grant_types: ['password'] }, /^grant_types\.0: /],
      [
        'authorization_code without a redirect URI',
        { name: 'x', grant_types: ['authorization_code'] },
        /^redirect_uris: is required for authorization_code$/,
      ],
      [
        'a redirect URI with a fragment',
        {
          name: 'x',
          grant_types: ['authorization_code'],
          redirect_uris: [REDIRECT, 'https://a.example.test/#f'],
        },
        /^redirect_uris\.1: must be an absolute URL without a fragment$/,
      ],
      [
        'a public machine client',
        { name: 'x', grant_types: ['client_credentials'], public: true },
        /^public: a public client cannot use client_credentials$/,
      ],
      [
        'private_key_jwt without keys',
        { name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' },
        /^jwks: is required with private_key_jwt or self_signed_tls_client_auth, and only with them$/,
      ],
      [
        'tls_client_auth without a certificate subject',
        { name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'tls_client_auth' },
        /^tls_client_auth_subject_dn: tls_client_auth needs exactly one of/,
      ],
      [
        'tls_client_auth with two certificate subjects',
        {
          name: 'x',
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: 'CN=a',
          tls_client_auth_san_dns: 'a.example.test',
        },
        /^tls_client_auth_san_dns: tls_client_auth needs exactly one of/,
      ],
      [
        'a certificate subject for another method',
        { name: 'x', grant_types: ['client_credentials'], tls_client_auth_san_uri: 'spiffe://a' },
        /^tls_client_auth_san_uri: is only for tls_client_auth$/,
      ],
      [
        'self_signed_tls_client_auth with a key without its certificate',
        {
          name: 'x',
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'self_signed_tls_client_auth',
          jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] },
        },
        /^jwks: every key needs x5c/,
      ],
      [
        'certificate binding that is not a boolean',
        { name: 'x', grant_types: ['client_credentials'], tls_client_certificate_bound_access_tokens: 'yes' },
        /^tls_client_certificate_bound_access_tokens: /,
      ],
      [
        'api beside grants',
        { name: 'x', grant_types: ['client_credentials'], api: BOOKS, grants: [] },
        /^api: cannot be combined with grants/,
      ],
      [
        'an address that is no range',
        { name: 'x', grant_types: ['client_credentials'], allowed_ips: ['10.0.0.0/8', 'intranet'] },
        /^allowed_ips\.1: must be an address or CIDR range/,
      ],
      [
        'unknown field',
        { name: 'x', grant_types: ['client_credentials'], secret: 's' },
        /^unknown field secret$/,
      ],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        await rejectsWith(() => parsed(createClientInput, body), 'invalid_request', description);
      });
    }
  });
});
