import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { runTollgate } from '../helpers/cli.ts';
import { createApi, createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const INVOICES = 'https://invoices.example.test';
const LEDGER = 'https://ledger.example.test';

describe('tollgate token', () => {
  let tg: TestInstance;
  let machine: { client_id: string; client_secret: string };
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: INVOICES, scopes: ['invoices:read', 'invoices:write'] });
    await createApi(tg, { audience: LEDGER, scopes: ['ledger:read'] });
    machine = (await createClient(tg, {
      name: 'billing',
      grant_types: ['client_credentials'],
      grants: [
        { api: INVOICES, scopes: ['invoices:read'] },
        { api: LEDGER, scopes: ['ledger:read'] },
      ],
      roles: ['billing'],
    })) as typeof machine;
    jwks = createRemoteJWKSet(new URL(`${tg.url}/jwks`));
  });
  after(() => tg.close());

  const token = (args: string[], stdin?: string, env: Record<string, string> = {}) =>
    runTollgate(['token', '--url', tg.url, ...args], env, stdin);

  async function verify(accessToken: string, audience: string) {
    const { payload } = await jwtVerify(accessToken, jwks, { issuer: tg.issuer, audience, typ: 'at+jwt' });
    return payload;
  }

  it('prints only the access token, with the secret read from stdin', async () => {
    const run = await token(
      ['--client-id', machine.client_id, '--client-secret-stdin', '--scope', 'invoices:read'],
      `${machine.client_secret}\n`,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verify(run.stdout.trim(), INVOICES);
    assert.equal(claims.sub, machine.client_id);
    assert.equal(claims.scope, 'invoices:read');
    assert.deepEqual(claims.roles, ['billing']);
  });

  it('prints the token response with --json, for the API named by --api', async () => {
    const run = await token(
      [
        '--client-id',
        machine.client_id,
        '--client-secret-stdin',
        '--scope',
        'ledger:read',
        '--api',
        LEDGER,
        '--json',
      ],
      machine.client_secret,
    );
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'ledger:read');
    assert.equal(body.expires_in, 300);
    await verify(String(body.access_token), LEDGER);
  });

  it('takes the secret from TOLLGATE_CLIENT_SECRET only when TOLLGATE_CLIENT_ID names the same client', async () => {
    const env = { TOLLGATE_CLIENT_ID: machine.client_id, TOLLGATE_CLIENT_SECRET: machine.client_secret };
    const same = await token(['--client-id', machine.client_id, '--scope', 'invoices:read'], '', env);
    assert.equal(same.code, 0, same.stderr);
    await verify(same.stdout.trim(), INVOICES);

    const other = await token(['--client-id', tg.admin.client_id, '--scope', 'admin'], '', env);
    assert.equal(other.code, 2);
    assert.equal(other.stdout, '');
    assert.match(other.stderr, /--client-secret-stdin is required/);
  });

  it('refuses a secret on the command line and an empty stdin', async () => {
    for (const [args, stdin] of [
      [
        [
          '--client-id',
          machine.client_id,
          '--client-secret',
          machine.client_secret,
          '--scope',
          'invoices:read',
        ],
        '',
      ],
      [['--client-id', machine.client_id, '--client-secret=x', '--scope', 'invoices:read'], ''],
      [['--client-id', machine.client_id, '--scope', 'invoices:read'], machine.client_secret],
      [['--client-id', machine.client_id, '--client-secret-stdin', '--scope', 'invoices:read'], ''],
      [['--client-id', machine.client_id, '--client-secret-stdin'], machine.client_secret],
      [['--client-secret-stdin', '--scope', 'invoices:read'], machine.client_secret],
    ] as const) {
      const run = await token([...args], stdin);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.ok(!run.stderr.includes(machine.client_secret), 'the secret is never echoed');
    }
  });

  it("fails with the server's OAuth error for a wrong secret, an ungranted scope or API", async () => {
    for (const [args, secret, error] of [
      [['--scope', 'invoices:read'], `${machine.client_secret}x`, /invalid_client/],
      [['--scope', 'invoices:write'], machine.client_secret, /invalid_scope/],
      [['--scope', 'admin', '--api', 'urn:tollgate'], machine.client_secret, /invalid_target/],
      [
        ['--scope', 'invoices:read', '--api', 'https://unknown.example.test'],
        machine.client_secret,
        /invalid_target/,
      ],
    ] as const) {
      const run = await token(['--client-id', machine.client_id, '--client-secret-stdin', ...args], secret);
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^tollgate: the token request was refused: /);
      assert.match(run.stderr, error);
      assert.ok(!run.stderr.includes(machine.client_secret), 'the secret is never echoed');
    }
  });

  it('prints nothing a server could use to drive the terminal (control characters in a token)', async () => {
    const impostor = createServer((request, reply) => {
      const base = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
      reply.setHeader('content-type', 'application/json');
      reply.end(
        JSON.stringify(
          request.url === '/token'
            ? { access_token: 'abc\u001b]0;owned\u0007', token_type: 'Bearer' }
            : { issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token` },
        ),
      );
    });
    await new Promise<void>((done) => impostor.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
      const run = await runTollgate(
        ['token', '--url', url, '--client-id', 'x', '--client-secret-stdin', '--scope', 'a'],
        {},
        'secret',
      );
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /unusable token response \(access_token: must be printable ASCII\)/);
      assert.ok(!run.stderr.includes('\u001b'));
    } finally {
      impostor.close();
    }
  });

  it('finds the server through TOLLGATE_URL or admin.json, as the admin commands do', async () => {
    const args = [
      'token',
      '--client-id',
      machine.client_id,
      '--client-secret-stdin',
      '--scope',
      'invoices:read',
    ];
    const viaEnv = await runTollgate(args, { TOLLGATE_URL: tg.url }, machine.client_secret);
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const viaFile = await runTollgate(args, { DATA_DIR: tg.dataDir }, machine.client_secret);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    await verify(viaFile.stdout.trim(), INVOICES);
  });
});
