import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, formAction, formField, loginThroughForms } from '../helpers/browser.ts';
import type { CliRun } from '../helpers/cli.ts';
import { createApi, createClient, createUser } from '../helpers/fixtures.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';

const root = resolve(import.meta.dirname, '../..');
const API = 'https://invoices.example.test';
const ALICE = { username: 'alice', password: 'correct horse battery' };

interface LoginRun {
  /** The authorization URL the CLI printed on stderr. */
  url: Promise<URL>;
  done: Promise<CliRun>;
}

/**
 * Runs `tollgate login` as a real child process and hands over the URL it prints, as a person
 * would copy it into a browser. No desktop: the CLI must not try to open one.
 */
function startLogin(args: string[], stdin = ''): LoginRun {
  const env = { ...process.env };
  for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'TOLLGATE_URL', 'TOLLGATE_CLIENT_ID', 'DATA_DIR'])
    delete env[name];
  const child = spawn(process.execPath, ['bin/tollgate.js', 'login', ...args], { cwd: root, env });
  child.stdin.end(stdin);
  let stdout = '';
  let stderr = '';
  let found: ((url: URL) => void) | undefined;
  const url = new Promise<URL>((resolveUrl) => (found = resolveUrl));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    const printed = /^ {2}(http\S+)$/m.exec(stderr)?.[1];
    if (printed) found?.(new URL(printed));
  });
  const done = new Promise<CliRun>((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
  const printed = Promise.race([url, done.then((run) => Promise.reject(new Error(run.stderr)))]);
  // Runs that fail before printing a URL are awaited through `done` alone.
  printed.catch(() => {});
  return { url: printed, done };
}

describe('tollgate login', () => {
  let tg: TestInstance;
  let cli: string;
  let introspector: { client_id: string; client_secret?: string };
  let aliceId: string;
  // A confidential client's redirect URI is matched exactly: login must listen on its port.
  let confidential: { client_id: string; client_secret?: string };
  let confidentialPort: string;

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['invoices:read', 'invoices:write'] });
    ({ id: aliceId } = await createUser(tg, { ...ALICE, roles: ['accountant'] }));
    ({ client_id: cli } = await createClient(tg, {
      name: 'cli',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      public: true,
      scope: 'invoices:read',
      api: API,
    }));
    confidentialPort = String(await freePort());
    confidential = await createClient(tg, {
      name: 'local web app',
      grant_types: ['authorization_code'],
      redirect_uris: [`http://127.0.0.1:${confidentialPort}/callback`],
      scope: 'invoices:read',
      api: API,
    });
    introspector = await createClient(tg, {
      name: 'invoices-api',
      grant_types: ['client_credentials'],
      grants: [{ api: API, scopes: ['invoices:read'], introspect: true }],
    });
  });
  after(() => tg.close());

  const login = (...args: string[]) =>
    startLogin(['--url', tg.url, '--client', cli, '--no-browser', '--timeout', '30', ...args]);

  async function introspect(token: string) {
    const basic = Buffer.from(`${introspector.client_id}:${introspector.client_secret}`).toString('base64');
    const response = await fetch(`${tg.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  it("prints only the signed-in user's access token on stdout, valid for the client's API", async () => {
    const run = login('--scope', 'openid invoices:read');
    const url = await run.url;
    assert.equal(url.origin, tg.url);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    const redirectUri = new URL(url.searchParams.get('redirect_uri') ?? '');
    assert.equal(redirectUri.hostname, '127.0.0.1');
    assert.equal(redirectUri.pathname, '/callback');

    // Other requests to the loopback port (a favicon, a stray tab) do not end the wait.
    const stray = await fetch(new URL('/favicon.ico', redirectUri));
    assert.equal(stray.status, 404);
    await stray.body?.cancel();

    const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, ALICE);
    assert.equal(redirect.origin, redirectUri.origin);
    const landing = await fetch(redirect);
    assert.equal(landing.status, 200);
    assert.match(await landing.text(), /Signed in/);

    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one line: the access token');
    const token = stdout.trim();
    assert.ok(!stderr.includes(token), 'the token is on stdout only');
    assert.match(stderr, /Signed in/);
    const claims = await introspect(token);
    assert.equal(claims.active, true);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.client_id, cli);
    assert.equal(claims.aud, API);
    assert.equal(claims.scope, 'invoices:read');
  });

  it('prints the whole token response with --json, for the API named by --api', async () => {
    const run = login('--scope', 'openid invoices:read', '--api', API, '--json');
    const { redirect } = await loginThroughForms(new Browser(), (await run.url).toString(), tg.issuer, ALICE);
    assert.equal((await fetch(redirect)).status, 200);
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    const tokens = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(typeof tokens.expires_in, 'number');
    assert.equal(typeof tokens.id_token, 'string');
    assert.equal(decodeJwt(String(tokens.id_token)).sub, aliceId);
    assert.equal(decodeJwt(String(tokens.access_token)).aud, API);
    assert.equal((await introspect(String(tokens.access_token))).active, true);
  });

  it('fails with the reason when the user denies the request', async () => {
    const run = login('--scope', 'openid invoices:read');
    const browser = new Browser();
    const page = await browser.follow((await run.url).toString(), tg.issuer);
    const html = await page.response.text();
    const denied = await browser.follow(new URL(formAction(html, 'abort'), tg.issuer).toString(), tg.issuer, {
      form: { csrf: formField(html, 'csrf') },
    });
    const landing = await fetch(denied.url);
    assert.match(await landing.text(), /did not complete/);
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /tollgate: the login was refused: access_denied: the user denied the request/);
  });

  it('fails when the server refuses the request (a scope the client is not granted)', async () => {
    const run = login('--scope', 'openid invoices:write');
    const { url: callback } = await new Browser().follow((await run.url).toString(), tg.issuer);
    assert.ok(callback.startsWith('http://127.0.0.1:'), callback);
    await (await fetch(callback)).body?.cancel();
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /the login was refused: invalid_scope/);
  });

  it('refuses a callback carrying another state (a forged or stale redirect)', async () => {
    const run = login();
    const redirectUri = (await run.url).searchParams.get('redirect_uri') ?? '';
    const forged = await fetch(`${redirectUri}?code=attacker-code&state=guessed`);
    assert.equal(forged.status, 400);
    assert.doesNotMatch(await forged.text(), /attacker-code|guessed/, 'nothing from the request is echoed');
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /another state/);
  });

  it('refuses a callback that names another issuer (RFC 9207 mix-up)', async () => {
    const run = login();
    const url = await run.url;
    const callback = new URL(url.searchParams.get('redirect_uri') ?? '');
    callback.search = new URLSearchParams({
      code: 'code-from-elsewhere',
      state: url.searchParams.get('state') ?? '',
      iss: 'https://evil.example',
    }).toString();
    await (await fetch(callback)).body?.cancel();
    const { code, stderr } = await run.done;
    assert.equal(code, 1);
    assert.match(stderr, /issuer https:\/\/evil\.example, expected/);
  });

  it('gives up after --timeout seconds without a callback', async () => {
    const run = startLogin(['--url', tg.url, '--client', cli, '--no-browser', '--timeout', '1']);
    await run.url;
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /no login within 1 s/);
  });

  it('listens on the --port given', async () => {
    const port = String(await freePort());
    const run = login('--port', port);
    const redirectUri = new URL((await run.url).searchParams.get('redirect_uri') ?? '');
    assert.equal(redirectUri.host, `127.0.0.1:${port}`);
    await (await fetch(`${redirectUri}?error=access_denied&state=${'x'.repeat(22)}`)).body?.cancel();
    assert.equal((await run.done).code, 1);
  });

  /** `tollgate login` as the confidential client, its secret (or `secret`) piped in. */
  const loginConfidential = (secret = confidential.client_secret ?? '', ...args: string[]) =>
    startLogin(
      [
        '--url',
        tg.url,
        '--client',
        confidential.client_id,
        '--client-secret-stdin',
        '--port',
        confidentialPort,
        '--no-browser',
        '--timeout',
        '30',
        '--scope',
        'openid invoices:read',
        ...args,
      ],
      secret,
    );

  /** Signs alice in at the URL the CLI printed and hands the redirect to its listener. */
  async function signInAt(run: LoginRun): Promise<void> {
    const { redirect } = await loginThroughForms(new Browser(), (await run.url).toString(), tg.issuer, ALICE);
    await (await fetch(redirect)).body?.cancel();
  }

  it('logs a confidential client in with its secret from stdin, on the exact --port registered', async () => {
    const run = loginConfidential();
    const url = await run.url;
    assert.equal(url.searchParams.get('redirect_uri'), `http://127.0.0.1:${confidentialPort}/callback`);
    await signInAt(run);
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.ok(!stderr.includes(confidential.client_secret ?? '-'), 'the secret is never shown');
    const claims = await introspect(stdout.trim());
    assert.equal(claims.active, true);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.client_id, confidential.client_id);
    assert.equal(claims.aud, API);
  });

  it("fails on a confidential client's wrong secret, naming the option that gave it", async () => {
    const wrong = 'not-the-secret-of-this-client';
    const run = loginConfidential(wrong);
    await signInAt(run);
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /^tollgate: the token request was refused: invalid_client: .*\(HTTP 401\); check the client ID given with --client and the secret given with --client-secret-stdin\n$/m,
    );
    assert.ok(!stderr.includes(wrong), 'not even a wrong secret is shown');
  });

  it('tells a confidential client without --client-secret-stdin to give its secret', async () => {
    const run = startLogin([
      '--url',
      tg.url,
      '--client',
      confidential.client_id,
      '--port',
      confidentialPort,
      '--no-browser',
      '--timeout',
      '30',
    ]);
    await signInAt(run);
    const { code, stderr } = await run.done;
    assert.equal(code, 1);
    assert.match(stderr, /invalid_client: .*pipe its secret to --client-secret-stdin/);
  });

  it('says which --port is in use when another program holds it', async () => {
    const holder = createServer();
    await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, stdout, stderr } = await login('--port', String(port)).done;
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(
        stderr,
        new RegExp(`^tollgate: --port ${port}: 127\\.0\\.0\\.1:${port} is already in use`),
      );
    } finally {
      holder.close();
    }
  });

  it('rejects a bad command line with exit 2 before listening or calling the server', async () => {
    for (const args of [
      ['--url', tg.url],
      ['--url', tg.url, '--client', cli, '--port', '70000'],
      ['--url', tg.url, '--client', cli, '--port=-1'],
      ['--url', tg.url, '--client', cli, '--timeout', '0'],
      ['--url', 'file:///etc/passwd', '--client', cli],
      // A confidential client's redirect URI has a fixed port: without --port none could match.
      ['--url', tg.url, '--client', cli, '--client-secret-stdin'],
    ]) {
      const { code, stdout, stderr } = await startLogin(args, 'some-secret').done;
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
    }
  });

  it('refuses an empty --client-secret-stdin with exit 2', async () => {
    const { code, stderr } = await startLogin(
      ['--url', tg.url, '--client', cli, '--client-secret-stdin', '--port', confidentialPort],
      '',
    ).done;
    assert.equal(code, 2);
    assert.match(stderr, /^tollgate: --client-secret-stdin: standard input was empty/);
  });

  it('says so when no Tollgate answers at the URL', async () => {
    const { code, stderr } = await startLogin(['--url', 'http://127.0.0.1:9', '--client', cli]).done;
    assert.equal(code, 1);
    assert.match(stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
