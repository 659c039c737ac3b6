import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { verifyPassword } from '../../src/common/index.ts';
import { clientQueries, userQueries } from '../../src/db/index.ts';
import { CLIENT_SUBJECT_DN, derBase64, makeCertificates, type TestCertificates } from '../helpers/certs.ts';
import { runTollgate } from '../helpers/cli.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

describe('tollgate CLI against a running instance', () => {
  let tg: TestInstance;
  const cli = (args: string[], env: Record<string, string> = {}, stdin?: string) =>
    runTollgate(args, { DATA_DIR: tg.dataDir, ...env }, stdin);
  const json = async (args: string[], env?: Record<string, string>, stdin?: string) => {
    const run = await cli([...args, '--json'], env, stdin);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    return JSON.parse(run.stdout);
  };

  before(async () => {
    tg = await startTestInstance();
    await json([
      'api',
      'create',
      '--audience',
      'https://invoices.example',
      '--scope',
      'invoices:read invoices:write',
    ]);
  });
  after(() => tg.close());

  it('creates an API with api create and shows it in api list', async () => {
    const created = await cli([
      'api',
      'create',
      '--audience',
      'https://ledger.example',
      '--scope',
      'ledger:read',
      '--ttl',
      '600',
      '--name',
      'Ledger',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created API https:\/\/ledger\.example/);
    const { apis } = await json(['api', 'list']);
    const ledger = apis.find((a: { audience: string }) => a.audience === 'https://ledger.example');
    assert.deepEqual(ledger, {
      audience: 'https://ledger.example',
      name: 'Ledger',
      scopes: ['ledger:read'],
      scope_descriptions: {},
      alg: 'RS256',
      ttl: 600,
      require_binding: 'none',
      builtin: false,
    });
    const table = await cli(['api', 'list']);
    assert.match(table.stdout, /^AUDIENCE\s+NAME\s+SCOPES/m);
    assert.match(table.stdout, /https:\/\/ledger\.example\s+Ledger\s+ledger:read\s+RS256\s+600\s+none\s+no/);
  });

  it('creates APIs that take DPoP- or certificate-bound tokens only, and relays the server refusing another binding', async () => {
    const strict = await cli([
      'api',
      'create',
      '--audience',
      'https://vault.example',
      '--scope',
      'vault:read',
      '--require-binding',
      'dpop',
    ]);
    assert.equal(strict.code, 0, strict.stderr);
    assert.match(strict.stdout, /; DPoP-bound tokens only\)\.$/m);
    const { apis } = await json(['api', 'list']);
    assert.equal(
      apis.find((a: { audience: string }) => a.audience === 'https://vault.example').require_binding,
      'dpop',
    );
    const certified = await cli([
      'api',
      'create',
      '--audience',
      'https://vault2.example',
      '--scope',
      'r',
      '--require-binding',
      'mtls',
    ]);
    assert.equal(certified.code, 0, certified.stderr);
    assert.match(certified.stdout, /; certificate-bound tokens only\)\.$/m);
    const other = await cli([
      'api',
      'create',
      '--audience',
      'https://vault3.example',
      '--scope',
      'r',
      '--require-binding',
      'jwt',
    ]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /require_binding: must be dpop, mtls or none/);
  });

  it('stores scope descriptions given as --scope name=description, beside plain scope names', async () => {
    const created = await json([
      'api',
      'create',
      '--audience',
      'https://statements.example',
      '--scope',
      'statements:read=Read your statements',
      '--scope',
      'statements:export statements:close',
      '--scope',
      'statements:share=Share them = with anyone',
    ]);
    assert.deepEqual(created.scopes, [
      'statements:read',
      'statements:export',
      'statements:close',
      'statements:share',
    ]);
    assert.deepEqual(created.scope_descriptions, {
      'statements:read': 'Read your statements',
      'statements:share': 'Share them = with anyone',
    });
    // The table shows each description under its API's row, scopes without one left out.
    const table = await cli(['api', 'list']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.split('\n');
    const row = lines.findIndex((line) => line.startsWith('https://statements.example '));
    assert.ok(row > 0, table.stdout);
    assert.deepEqual(lines.slice(row + 1, row + 3), [
      '    statements:read   Read your statements',
      '    statements:share  Share them = with anyone',
    ]);
    assert.ok(!/^\s+statements:(export|close)\b/m.test(table.stdout), 'no line for undescribed scopes');
    const invoices = lines.findIndex((line) => line.startsWith('https://invoices.example '));
    assert.match(lines[invoices + 1] ?? '', /^https:\/\//, 'an API without descriptions has its row alone');
    const refused = await cli([
      'api',
      'create',
      '--audience',
      'https://statements2.example',
      '--scope',
      'statements:read=Read\u0007',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /scope_descriptions\.statements:read: must be one line of printable text/);
  });

  it('prints a confidential client secret that obtains a client-credentials token for its API', async () => {
    const created = await json([
      'client',
      'create',
      '--name',
      'billing',
      '--grant',
      'client_credentials',
      '--scope',
      'invoices:read',
      '--api',
      'https://invoices.example',
      '--role',
      'billing',
    ]);
    assert.deepEqual(Object.keys(created).sort(), ['client_id', 'client_secret']);
    const response = await requestToken(tg.url, created, { scope: 'invoices:read' });
    const body = (await response.json()) as { access_token: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    const claims = decodeJwt(body.access_token);
    assert.equal(claims.aud, 'https://invoices.example');
    assert.equal(claims.client_id, created.client_id);
    assert.equal(claims.scope, 'invoices:read');
    assert.deepEqual(claims.roles, ['billing']);
  });

  it('says in human output that the secret is shown only once', async () => {
    const run = await cli(['client', 'create', '--name', 'reports', '--grant', 'client_credentials']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /client_id: +cl_\S+/);
    assert.match(run.stdout, /client_secret: +\S{20,}/);
    assert.match(run.stdout, /shown only this once/);
  });

  it('registers the ways back the error page offers, refusing a link that is not a web address', async () => {
    const base = ['client', 'create', '--name', 'portal', '--grant', 'authorization_code'];
    const web = ['--redirect-uri', 'https://portal.example/cb'];
    const created = await json([
      ...base,
      ...web,
      '--client-uri',
      'https://portal.example/',
      '--initiate-login-uri',
      'https://portal.example/login',
    ]);
    const row = await clientQueries(tg.tollgate.db.db).find(String(created.client_id));
    assert.equal(row?.metadata.client_uri, 'https://portal.example/');
    assert.equal(row?.metadata.initiate_login_uri, 'https://portal.example/login');
    const refused = await cli([...base, ...web, '--client-uri', 'javascript:alert(1)']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /client_uri/);
  });

  it('creates a public client without a secret', async () => {
    const args = ['client', 'create', '--name', 'spa', '--public', '--grant', 'authorization_code'];
    const created = await json([
      ...args,
      '--redirect-uri',
      'https://app.example/cb',
      '--api',
      'https://invoices.example',
      '--scope',
      'openid invoices:read',
    ]);
    assert.match(created.client_id, /^cl_/);
    assert.equal('client_secret' in created, false);
    const human = await cli([...args, '--redirect-uri', 'https://app.example/cb2']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /public client cl_\S+ \(it has no secret\)/);
  });

  it('registers a private_key_jwt client with the public key from a --jwks file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-jwks-'));
    try {
      const { publicKey } = await generateKeyPair('ES256');
      const file = join(dir, 'key.json');
      await writeFile(
        file,
        JSON.stringify({ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }),
      );
      const created = await json([
        ...['client', 'create', '--name', 'signer', '--grant', 'client_credentials'],
        ...['--auth-method', 'private_key_jwt', '--jwks', file],
      ]);
      assert.equal('client_secret' in created, false);
      const { clients } = await json(['client', 'list']);
      const signer = clients.find((c: { client_id: string }) => c.client_id === created.client_id);
      assert.equal(signer.token_endpoint_auth_method, 'private_key_jwt');

      const missing = await cli([
        'client',
        'create',
        '--name',
        'x',
        '--grant',
        'client_credentials',
        '--jwks',
        join(dir, 'nope.json'),
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^tollgate: cannot read --jwks .*nope\.json: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists clients and deletes one; deleting it again fails with the server reason', async () => {
    const { client_id: id } = await json([
      'client',
      'create',
      '--name',
      'doomed',
      '--grant',
      'client_credentials',
    ]);
    const listed = await json(['client', 'list']);
    assert.ok(
      listed.clients.some(
        (c: { client_id: string; name: string }) => c.client_id === id && c.name === 'doomed',
      ),
    );
    assert.match(
      (await cli(['client', 'list'])).stdout,
      new RegExp(`^${id}\\s+doomed\\s+client_credentials`, 'm'),
    );

    const deleted = await cli(['client', 'delete', id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`Deleted client ${id}`));
    const after = await json(['client', 'list']);
    assert.equal(
      after.clients.some((c: { client_id: string }) => c.client_id === id),
      false,
    );

    const again = await cli(['client', 'delete', id]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(`^tollgate: DELETE /admin/clients/${id} failed: not_found: client ${id} does not exist`),
    );
  });

  it('creates a user with the password from stdin, lists, disables, enables and deletes it', async () => {
    const created = await json(
      [
        'user',
        'create',
        '--username',
        'alice',
        '--password-stdin',
        '--role',
        'accountant',
        '--attr',
        'tenant=acme',
      ],
      {},
      'correct horse battery\n',
    );
    assert.match(created.id, /^usr_/);
    // The trailing newline from `echo` must not become part of the password.
    const row = await userQueries(tg.tollgate.db.db).findByUsername('alice');
    assert.equal(await verifyPassword(row?.password_hash, 'correct horse battery'), true);

    const { users } = await json(['user', 'list']);
    const alice = users.find((u: { username: string }) => u.username === 'alice');
    assert.deepEqual([alice.id, alice.roles, alice.attrs], [created.id, ['accountant'], { tenant: 'acme' }]);
    assert.match((await cli(['user', 'list'])).stdout, /alice\s+accountant\s+tenant=acme\s+no/);

    const disabled = await cli(['user', 'disable', created.id]);
    assert.equal(disabled.code, 0);
    assert.match(disabled.stdout, new RegExp(`^Disabled user alice \\(id ${created.id}\\)\\.`));
    assert.match((await cli(['user', 'list'])).stdout, /alice\s+accountant\s+tenant=acme\s+yes/);
    assert.equal((await json(['user', 'enable', created.id])).disabled, false);
    assert.match((await cli(['user', 'list'])).stdout, /alice\s+accountant\s+tenant=acme\s+no/);
    const unknown = await cli(['user', 'disable', 'usr_nobody']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not_found: user usr_nobody does not exist/);

    assert.equal((await cli(['user', 'delete', created.id])).code, 0);
    assert.equal(
      (await json(['user', 'list'])).users.some((u: { id: string }) => u.id === created.id),
      false,
    );
  });

  it('refuses a user without a password on stdin', async () => {
    const empty = await cli(['user', 'create', '--username', 'bob', '--password-stdin'], {}, '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^tollgate: --password-stdin: standard input was empty/);
    const noFlag = await cli(['user', 'create', '--username', 'bob']);
    assert.equal(noFlag.code, 2);
    assert.match(
      noFlag.stderr,
      /^tollgate: no terminal to ask for the password: pipe it in with --password-stdin/,
    );
  });

  it('lists signing keys and rotates them', async () => {
    const before = await json(['keys', 'list']);
    assert.deepEqual(
      before.keys
        .filter((k: { state: string }) => k.state === 'active')
        .map((k: { alg: string }) => k.alg)
        .sort(),
      ['ES256', 'RS256'],
    );
    const rotated = await json(['keys', 'rotate']);
    assert.deepEqual(rotated.keys.map((k: { alg: string; state: string }) => `${k.alg}:${k.state}`).sort(), [
      'ES256:pending',
      'RS256:pending',
    ]);
    const after = await cli(['keys', 'list']);
    assert.equal(after.code, 0, after.stderr);
    for (const key of rotated.keys)
      assert.match(after.stdout, new RegExp(`^${key.kid}\\s+${key.alg}\\s+pending`, 'm'));
  });

  it('takes credentials and URL from TOLLGATE_CLIENT_ID/SECRET and TOLLGATE_URL without admin.json', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tollgate-cli-'));
    try {
      const env = {
        DATA_DIR: empty,
        TOLLGATE_URL: tg.url,
        TOLLGATE_CLIENT_ID: tg.admin.client_id,
        TOLLGATE_CLIENT_SECRET: tg.admin.client_secret,
      };
      const { apis } = await json(['api', 'list'], env);
      assert.ok(apis.some((a: { audience: string }) => a.audience === 'https://invoices.example'));
      const without = await cli(['api', 'list'], { DATA_DIR: empty, TOLLGATE_URL: tg.url });
      assert.equal(without.code, 1);
      assert.match(
        without.stderr,
        /^tollgate: no admin credentials: set TOLLGATE_CLIENT_ID and TOLLGATE_CLIENT_SECRET/,
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('fails with exit 1 and the server reason on wrong credentials, never printing the secret', async () => {
    const secret = 'not-the-right-secret-4f1c9a';
    const run = await cli(['client', 'list'], {
      TOLLGATE_CLIENT_ID: tg.admin.client_id,
      TOLLGATE_CLIENT_SECRET: secret,
    });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^tollgate: could not get an admin token from http:\/\/127\.0\.0\.1:\d+\/token/);
    assert.match(run.stderr, /invalid_client: .+\(HTTP 401\)/);
    assert.equal(run.stderr.includes(secret), false);
    assert.equal(run.stderr.split('\n').filter(Boolean).length, 1);
  });

  it("refuses an admin token to a client without a grant for Tollgate's API", async () => {
    const weak = await json(['client', 'create', '--name', 'weak', '--grant', 'client_credentials']);
    const run = await cli(['api', 'list'], {
      TOLLGATE_CLIENT_ID: weak.client_id,
      TOLLGATE_CLIENT_SECRET: weak.client_secret,
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^tollgate: could not get an admin token .*invalid_target: this client holds no grant for resource urn:tollgate/,
    );
    assert.equal(run.stderr.includes(weak.client_secret), false);
  });

  it('creates a client with --api/--scope pairs and shows its grants in client list', async () => {
    await json(['api', 'create', '--audience', 'https://ledger-pairs.example', '--scope', 'ledger:read']);
    const created = await json([
      ...['client', 'create', '--name', 'two-apis', '--grant', 'client_credentials'],
      ...['--api', 'https://invoices.example', '--scope', 'invoices:read invoices:write'],
      ...['--api', 'https://ledger-pairs.example', '--scope', 'ledger:read'],
    ]);
    const { clients } = await json(['client', 'list']);
    const listed = clients.find((c: { client_id: string }) => c.client_id === created.client_id);
    assert.deepEqual(listed.grants, [
      { api: 'https://invoices.example', scopes: ['invoices:read', 'invoices:write'], introspect: false },
      { api: 'https://ledger-pairs.example', scopes: ['ledger:read'], introspect: false },
    ]);
    const table = await cli(['client', 'list']);
    assert.match(table.stdout, /^CLIENT_ID\s+NAME\s+GRANT_TYPES\s+AUTH\s+APIS\s+ROLES/m);
    assert.match(
      table.stdout,
      new RegExp(
        `^${created.client_id}\\s+two-apis\\s+client_credentials\\s+client_secret_basic\\s+` +
          'https://invoices\\.example\\(invoices:read invoices:write\\),https://ledger-pairs\\.example\\(ledger:read\\)',
        'm',
      ),
    );
    // The scope of one pair selects that API when the request names none.
    const token = await requestToken(tg.url, created, { scope: 'ledger:read' });
    assert.equal(token.status, 200);
    assert.equal(
      decodeJwt(((await token.json()) as { access_token: string }).access_token).aud,
      'https://ledger-pairs.example',
    );
  });

  it('refuses unequal --api/--scope counts as a usage error, and a scope without its API', async () => {
    const unequal = await cli([
      ...['client', 'create', '--name', 'x', '--grant', 'client_credentials'],
      ...['--api', 'https://invoices.example', '--scope', 'invoices:read', '--scope', 'invoices:write'],
    ]);
    assert.equal(unequal.code, 2);
    assert.match(
      unequal.stderr,
      /^tollgate: --api and --scope come in pairs, matched in order: got 1 --api and 2 --scope/,
    );
    const orphan = await cli([
      'client',
      'create',
      '--name',
      'x',
      '--grant',
      'client_credentials',
      '--scope',
      'decide',
    ]);
    assert.equal(orphan.code, 1);
    assert.match(orphan.stderr, /invalid_request: scope: decide names no API/);
    const foreign = await cli([
      ...['client', 'create', '--name', 'x', '--grant', 'client_credentials'],
      ...['--api', 'https://invoices.example', '--scope', 'invoices:read metrics'],
    ]);
    assert.equal(foreign.code, 1);
    assert.match(
      foreign.stderr,
      /invalid_request: grants\[0\]\.scopes: metrics is not a scope of API https:\/\/invoices\.example/,
    );
  });

  it('grants and ungrants one API with client grant / client ungrant', async () => {
    const created = await json(['client', 'create', '--name', 'regrant', '--grant', 'client_credentials']);
    const granted = await json([
      ...['client', 'grant', created.client_id, '--api', 'https://invoices.example'],
      ...['--scope', 'invoices:read', '--introspect'],
    ]);
    assert.deepEqual(granted, {
      client_id: created.client_id,
      api: 'https://invoices.example',
      scopes: ['invoices:read'],
      introspect: true,
    });
    const human = await cli([
      'client',
      'grant',
      created.client_id,
      '--api',
      'https://invoices.example',
      '--scope',
      'invoices:write',
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout, `Granted ${created.client_id}: https://invoices.example(invoices:write).\n`);
    const token = await requestToken(tg.url, created, { scope: 'invoices:read' });
    assert.equal(token.status, 400);
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_scope');
    const bad = await cli([
      'client',
      'grant',
      created.client_id,
      '--api',
      'https://invoices.example',
      '--scope',
      'admin',
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /invalid_request: scopes: admin is not a scope of API https:\/\/invoices\.example/,
    );

    assert.deepEqual(
      await json(['client', 'ungrant', created.client_id, '--api', 'https://invoices.example']),
      {
        client_id: created.client_id,
        api: 'https://invoices.example',
        ungranted: true,
      },
    );
    const gone = await requestToken(tg.url, created, { resource: 'https://invoices.example' });
    assert.equal(((await gone.json()) as { error: string }).error, 'invalid_target');
    const again = await cli(['client', 'ungrant', created.client_id, '--api', 'https://invoices.example']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not_found: client \S+ holds no grant for https:\/\/invoices\.example/);
    const usage = await cli(['client', 'ungrant', created.client_id]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^tollgate: --api is required/);
  });

  it('mints a gateway key once with gateway create (--api required), lists gateways with their APIs and without the key, updates their APIs, deletes by name', async () => {
    const missing = await cli(['gateway', 'create', '--name', 'edge-cli']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--api is required/);
    const run = await cli(['gateway', 'create', '--name', 'edge-cli', '--api', 'https://invoices.example']);
    assert.equal(run.code, 0, run.stderr);
    const key = /key: (\S+)/.exec(run.stdout)?.[1] ?? '';
    assert.match(key, /^gw_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.match(run.stdout, /shown only this once/);
    const listed = await cli(['gateway', 'list']);
    assert.match(listed.stdout, /edge-cli .*https:\/\/invoices\.example/);
    assert.ok(!listed.stdout.includes(key.split('.')[1] as string));
    const again = await cli(['gateway', 'create', '--name', 'edge-cli', '--api', 'https://invoices.example']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const unknown = await cli(['gateway', 'update', 'edge-cli', '--api', 'https://nope.example']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no API with audience https:\/\/nope\.example/);
    const updated = await json(['gateway', 'update', 'edge-cli', '--api', 'https://invoices.example']);
    assert.deepEqual(updated.apis, ['https://invoices.example']);
    assert.equal(updated.client_certificates, false);
    // Whether its certificate header is believed: said at creation or later, left alone otherwise.
    const tls = await cli([
      'gateway',
      'update',
      'edge-cli',
      '--api',
      'https://invoices.example',
      '--client-certificates',
    ]);
    assert.match(tls.stdout, /now protects https:\/\/invoices\.example; it passes client certificates\.$/m);
    assert.match((await cli(['gateway', 'list'])).stdout, /edge-cli .*https:\/\/invoices\.example\s+yes/);
    const kept = await json(['gateway', 'update', 'edge-cli', '--api', 'https://invoices.example']);
    assert.equal(kept.client_certificates, true);
    const off = [
      'gateway',
      'update',
      'edge-cli',
      '--api',
      'https://invoices.example',
      '--no-client-certificates',
    ];
    assert.equal((await json(off)).client_certificates, false);
    const both = await cli([...off, '--client-certificates']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /contradict each other/);
    const created = await json([
      'gateway',
      'create',
      '--name',
      'tls-cli',
      '--api',
      'https://invoices.example',
      '--client-certificates',
    ]);
    assert.equal(created.client_certificates, true);
    await json(['gateway', 'delete', 'tls-cli']);
    assert.deepEqual(await json(['gateway', 'delete', 'edge-cli']), { name: 'edge-cli', deleted: true });
    assert.deepEqual((await json(['gateway', 'list'])).gateways, []);
  });

  it('exits 2 with usage on an unknown command or option', async () => {
    const command = await cli(['frobnicate']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^tollgate: unknown command "frobnicate"\nUsage: tollgate/);
    const option = await cli(['client', 'list', '--colour']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /^tollgate: unknown option --colour\nUsage: tollgate client list/);
    const missing = await cli(['client', 'create', '--grant', 'client_credentials']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^tollgate: --name is required/);
  });

  it('shows the server error naming the field for invalid input, with exit 1', async () => {
    const run = await cli([
      'api',
      'create',
      '--audience',
      'https://big.example',
      '--scope',
      'x',
      '--ttl',
      '99999',
    ]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'tollgate: POST /admin/apis failed: invalid_request: ttl: must be at most 3600 seconds (HTTP 400)\n',
    );
  });

  it('says which URL could not be reached', async () => {
    const port = await freePort();
    const run = await cli(['--url', `http://127.0.0.1:${port}`, 'api', 'list']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(`^tollgate: cannot reach http://127\\.0\\.0\\.1:${port}/\\S+: ECONNREFUSED`),
    );
  });

  it('prints help on --help with exit 0', async () => {
    const run = await cli(['client', 'create', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: tollgate client create --name N --grant/);
  });
});

describe('tollgate client create for mutual TLS (RFC 8705)', () => {
  let tg: TestInstance;
  let certs: TestCertificates;
  const cli = (args: string[]) => runTollgate(args, { DATA_DIR: tg.dataDir });
  const create = (args: string[]) =>
    cli(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--json', ...args]);

  before(async () => {
    certs = await makeCertificates();
    tg = await startTestInstance({
      MTLS_CERTIFICATE_HEADER: 'x-ssl-client-cert',
      TRUSTED_PROXIES: '127.0.0.1',
    });
  });
  after(async () => {
    await tg?.close();
    await certs?.remove();
  });

  it('registers a tls_client_auth client by subject and a self-signed one by its certificate file, bound', async () => {
    const byName = await create([
      '--auth-method',
      'tls_client_auth',
      '--tls-subject-dn',
      CLIENT_SUBJECT_DN,
      '--bind-certificate',
    ]);
    assert.equal(byName.code, 0, byName.stderr);
    const named = JSON.parse(byName.stdout) as { client_id: string; client_secret?: string };
    assert.equal(named.client_secret, undefined, 'no secret: the certificate is the credential');
    const selfSigned = await create([
      '--auth-method',
      'self_signed_tls_client_auth',
      '--certificate',
      certs.selfSigned.certPath,
    ]);
    assert.equal(selfSigned.code, 0, selfSigned.stderr);
    const { clients } = JSON.parse((await cli(['client', 'list', '--json'])).stdout) as {
      clients: Record<string, unknown>[];
    };
    const shown = (id: string) => clients.find((c) => c.client_id === id);
    assert.equal(shown(named.client_id)?.tls_client_auth_subject_dn, CLIENT_SUBJECT_DN);
    assert.equal(shown(named.client_id)?.tls_client_certificate_bound_access_tokens, true);
    const selfId = (JSON.parse(selfSigned.stdout) as { client_id: string }).client_id;
    assert.equal(shown(selfId)?.tls_client_certificate_bound_access_tokens, false);
    // Its registered key is the certificate's, with the certificate itself in x5c.
    const row = await clientQueries(tg.database.handle.db).find(selfId);
    assert.ok(row, 'the client is stored');
    const [key] = (row.metadata.jwks as { keys: { x5c: string[] }[] }).keys;
    assert.deepEqual(key?.x5c, [derBase64(certs.selfSigned)]);
    const human = await cli([
      'client',
      'create',
      '--name',
      'svc2',
      '--grant',
      'client_credentials',
      '--auth-method',
      'tls_client_auth',
      '--tls-san-dns',
      'svc.example.test',
    ]);
    assert.match(
      human.stdout,
      /^Created client cl_\S+; it authenticates with tls_client_auth, so it has no secret\.$/m,
    );
  });

  it('relays the server naming what is wrong, and refuses a certificate file it cannot read', async () => {
    const noSubject = await create(['--auth-method', 'tls_client_auth']);
    assert.equal(noSubject.code, 1);
    assert.match(noSubject.stderr, /tls_client_auth_subject_dn: tls_client_auth needs exactly one of/);
    const garbage = await create([
      '--auth-method',
      'self_signed_tls_client_auth',
      '--certificate',
      certs.selfSigned.keyPath,
    ]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /cannot read --certificate/);
    const both = await create([
      '--auth-method',
      'self_signed_tls_client_auth',
      '--certificate',
      certs.selfSigned.certPath,
      '--jwks',
      certs.selfSigned.certPath,
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--jwks and --certificate cannot be combined/);
  });
});
