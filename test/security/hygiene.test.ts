import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { revokedTokenQueries } from '../../src/db/index.ts';
import { compilePolicySet } from '../../src/pdp/index.ts';
import { Browser, loginThroughForms } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createApi, createClient, createMachineClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { shippedPolicyFiles } from '../pdp/policy-fixtures.ts';

const REDIRECT = 'https://app.example.test/cb';
const HSTS = 'max-age=31536000; includeSubDomains';

interface Answer {
  url: string;
  status: number;
  type: string;
  cookies: string[];
  hsts: string | null;
}

/**
 * A browser that reaches Tollgate at `publicOrigin`; what it sends there goes to `backend` with
 * `headers` added, as a TLS-terminating reverse proxy forwards it. Every answer is recorded.
 */
class ProxiedBrowser extends Browser {
  readonly answers: Answer[] = [];
  readonly publicOrigin: string;
  readonly backend: string;

  constructor(publicOrigin: string, backend: string, headers: Record<string, string> = {}) {
    super(headers);
    this.publicOrigin = publicOrigin;
    this.backend = backend;
  }

  override async request(url: string, init?: { method?: string; form?: Record<string, string> }) {
    const target = url.startsWith(this.publicOrigin)
      ? `${this.backend}${url.slice(this.publicOrigin.length)}`
      : url;
    const response = await super.request(target, init);
    this.answers.push({
      url: target,
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      cookies: response.headers.getSetCookie(),
      hsts: response.headers.get('strict-transport-security'),
    });
    return response;
  }
}

/** Signs a user in through the login form of `origin`; returns the redirect to the client. */
async function walkLogin(tg: TestInstance, browser: ProxiedBrowser, origin: string): Promise<URL> {
  const username = `u${Math.random().toString(36).slice(2, 10)}`;
  const password = 'a long enough password';
  await createUser(tg, { username, password });
  const web = await createClient(tg, {
    name: `web-${username}`,
    grant_types: ['authorization_code'],
    redirect_uris: [REDIRECT],
  });
  const url = new URL(`${origin}/auth`);
  for (const [k, v] of Object.entries({
    client_id: web.client_id,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid',
    state: 'walk',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }))
    url.searchParams.set(k, v);
  const { redirect } = await loginThroughForms(browser, url.toString(), origin, { username, password });
  assert.ok(redirect.searchParams.get('code'), `login finished with a code: ${redirect}`);
  return redirect;
}

/** JSON answers from each layer: oidc-provider, our Koa routes, the /decide fast path. */
async function jsonAnswers(backend: string, headers: Record<string, string>): Promise<Response[]> {
  return Promise.all([
    fetch(`${backend}/.well-known/openid-configuration`, { headers }),
    fetch(`${backend}/healthz`, { headers }),
    fetch(`${backend}/decide`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
    }),
    fetch(`${backend}/token`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=nobody&client_secret=wrong',
    }),
  ]);
}

const cookieNames = (answers: Answer[]) =>
  new Set(answers.flatMap((a) => a.cookies.map((c) => c.slice(0, c.indexOf('=')))));
const isSecure = (cookie: string) => /;\s*secure\s*(;|$)/i.test(cookie);

describe('session cookies and HSTS behind a TLS-terminating proxy (issue 9)', () => {
  let trusted: TestInstance;
  let untrusted: TestInstance;
  let httpsIssuer: TestInstance;
  before(async () => {
    [trusted, untrusted, httpsIssuer] = await Promise.all([
      startTestInstance({ TRUSTED_PROXIES: '127.0.0.1/32' }),
      startTestInstance(),
      startTestInstance({ ISSUER: 'https://auth.example.test' }),
    ]);
  });
  after(() => Promise.all([trusted, untrusted, httpsIssuer].map((tg) => tg.close())));

  it('marks every session and interaction cookie Secure and sends HSTS on every HTML and JSON answer when a trusted proxy says https', async () => {
    const publicOrigin = trusted.url.replace(/^http:/, 'https:');
    const browser = new ProxiedBrowser(publicOrigin, trusted.url, { 'x-forwarded-proto': 'https' });
    await walkLogin(trusted, browser, publicOrigin);
    const names = cookieNames(browser.answers);
    for (const name of [
      '_interaction',
      '_interaction.sig',
      '_interaction_resume',
      '_session',
      '_session.sig',
    ])
      assert.ok(names.has(name), `the login set ${name} (got ${[...names].join(', ')})`);
    for (const answer of browser.answers) {
      for (const cookie of answer.cookies) assert.ok(isSecure(cookie), `Secure: ${cookie} (${answer.url})`);
      assert.equal(answer.hsts, HSTS, `HSTS on ${answer.status} ${answer.url}`);
    }
    assert.ok(
      browser.answers.some((a) => a.type.startsWith('text/html')),
      'the walk saw HTML pages',
    );
    for (const response of await jsonAnswers(trusted.url, { 'x-forwarded-proto': 'https' })) {
      assert.match(response.headers.get('content-type') ?? '', /json/, response.url);
      assert.equal(response.headers.get('strict-transport-security'), HSTS, `HSTS on ${response.url}`);
    }
    const discovery = (await (
      await fetch(`${trusted.url}/.well-known/openid-configuration`, {
        headers: { 'x-forwarded-proto': 'https' },
      })
    ).json()) as { token_endpoint: string };
    assert.equal(discovery.token_endpoint, `${publicOrigin}/token`, 'endpoints are advertised as https');
  });

  it('keeps plain http on loopback as it is: no Secure cookie, no HSTS without X-Forwarded-Proto', async () => {
    const browser = new ProxiedBrowser(trusted.url, trusted.url);
    await walkLogin(trusted, browser, trusted.url);
    for (const answer of browser.answers) {
      for (const cookie of answer.cookies) assert.ok(!isSecure(cookie), `not Secure over http: ${cookie}`);
      assert.equal(answer.hsts, null);
    }
  });

  it('ignores X-Forwarded-Proto: https from a peer that is not a trusted proxy: no Secure cookie, no HSTS, http endpoints', async () => {
    const headers = { 'x-forwarded-proto': 'https' };
    const browser = new ProxiedBrowser(untrusted.url, untrusted.url, headers);
    await walkLogin(untrusted, browser, untrusted.url);
    assert.ok(cookieNames(browser.answers).has('_session'));
    for (const answer of browser.answers) {
      for (const cookie of answer.cookies) assert.ok(!isSecure(cookie), `not Secure: ${cookie}`);
      assert.equal(answer.hsts, null, `no HSTS on ${answer.url}`);
    }
    for (const response of await jsonAnswers(untrusted.url, headers))
      assert.equal(response.headers.get('strict-transport-security'), null, response.url);
    const discovery = (await (
      await fetch(`${untrusted.url}/.well-known/openid-configuration`, { headers })
    ).json()) as { token_endpoint: string };
    assert.equal(discovery.token_endpoint, `${untrusted.url}/token`);
  });

  it('marks every cookie Secure and sends HSTS when the issuer is https, whichever hop terminates TLS', async () => {
    const browser = new ProxiedBrowser(httpsIssuer.url, httpsIssuer.url);
    await walkLogin(httpsIssuer, browser, httpsIssuer.url);
    assert.ok(cookieNames(browser.answers).has('_session'));
    for (const answer of browser.answers) {
      for (const cookie of answer.cookies) assert.ok(isSecure(cookie), `Secure: ${cookie} (${answer.url})`);
      assert.equal(answer.hsts, HSTS, `HSTS on ${answer.url}`);
    }
    for (const response of await jsonAnswers(httpsIssuer.url, {}))
      assert.equal(response.headers.get('strict-transport-security'), HSTS, response.url);
  });
});

/** Polls `probe` until it returns true, failing after `ms`. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`not within ${ms} ms`);
}

describe('revocations reach an instance whose clock runs ahead of the database (issue 9)', () => {
  const API = 'https://ledger.example.test';
  // Well past the list's 5-second margin, well within a token's 5-minute lifetime.
  const SKEW_MS = 60_000;
  // PGlite polls every 500 ms; PostgreSQL notifies at once (and polls every 5 s as a safety net).
  const POLL_MS = 500;
  let ahead: TestInstance;
  let caller: string;

  before(async () => {
    ahead = await startTestInstance({}, { clock: () => Date.now() + SKEW_MS });
    assert.equal((await ahead.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    await createApi(ahead, { audience: API, scopes: ['read'] });
    const { config } = await createMachineClient(ahead, { name: 'gw', scope: 'decide', api: 'urn:tollgate' });
    caller = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(() => ahead.close());

  const subjectToken = async (tg: TestInstance) => {
    const { created, config } = await createMachineClient(tg, { name: 'svc', scope: 'read', api: API });
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    return { token, created, config, claims: decodeJwt(token) as { jti: string; exp: number } };
  };
  const detailAtAhead = async (token: string) => {
    const response = await fetch(`${ahead.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { token }, action: 'read', resource: { type: 'Invoice', attrs: {} } }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { detail?: string }).detail;
  };

  it('sees a revocation another instance wrote to the database within the poll interval', async () => {
    const { token, created, claims } = await subjectToken(ahead);
    assert.notEqual(await detailAtAhead(token), 'revoked');
    // Another instance's write: the row, stamped by the database's clock, and its NOTIFY.
    await revokedTokenQueries(ahead.database.handle.db).add({
      jti: claims.jti,
      clientId: created.client_id,
      expiresAt: new Date(claims.exp * 1000),
    });
    await within(POLL_MS * 3, async () => (await detailAtAhead(token)) === 'revoked');
  });

  it('sees a token revoked over HTTP at a second instance with a true clock within the poll interval', {
    // Two instances share only a PostgreSQL database.
    skip: skipUnless('postgres'),
  }, async () => {
    const honest = await startTestInstance({}, { shareWith: ahead });
    try {
      const { token, config } = await subjectToken(honest);
      assert.notEqual(await detailAtAhead(token), 'revoked');
      await client.tokenRevocation(config, token);
      await within(POLL_MS * 3, async () => (await detailAtAhead(token)) === 'revoked');
    } finally {
      await honest.close();
    }
  });
});

describe('a revoked token in the clock tolerance after its expiry (issue 9)', () => {
  const API = 'https://tolerance.example.test';
  const TTL_SECONDS = 60;
  let late: TestInstance;

  before(async () => {
    // This instance's denylist lives 2 s past the tokens' exp: inside the 5 s verification
    // tolerance, where a token is still accepted and so must still be refused once revoked.
    late = await startTestInstance({}, { clock: () => Date.now() + (TTL_SECONDS + 2) * 1000 });
    assert.equal((await late.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    await createApi(late, { audience: API, scopes: ['read'], ttl: TTL_SECONDS });
  });
  after(() => late.close());

  it('stays on the denylist until exp plus the tolerance, not only until exp', async () => {
    const { config: callerConfig } = await createMachineClient(late, {
      name: 'gw',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    const caller = (await client.clientCredentialsGrant(callerConfig, { scope: 'decide' })).access_token;
    const { config } = await createMachineClient(late, { name: 'svc', scope: 'read', api: API });
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    await client.tokenRevocation(config, token);
    const response = await fetch(`${late.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { token }, action: 'read', resource: { type: 'Invoice', attrs: {} } }),
    });
    assert.equal(((await response.json()) as { detail?: string }).detail, 'revoked');
  });
});

describe('the ability cache under a caller varying placeholder values (issue 9)', () => {
  const BOUND = 64 * 1024 * 1024;
  // A caller's worst: long distinct values for every placeholder, every role the policies name.
  const ROLES = ['accountant', 'customer', 'finance-manager', 'admin', 'auditor'];
  const long = (i: number, what: string) => `${what}-${i}-`.padEnd(4000, 'x');
  const checks = [
    { action: 'read', resource: { type: 'Invoice', attrs: { tenant: 'acme' } } },
    { action: 'read', resource: { type: 'Project', attrs: { tenant: 'acme' } } },
  ];
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapUsed = () => {
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage().heapUsed;
  };

  it('keeps its estimated size under 64 MiB and the heap it pins within 64 MiB, deciding in process', () => {
    const compiled = compilePolicySet(shippedPolicyFiles(), 1);
    assert.ok(compiled.ok);
    const set = compiled.set;
    const before = heapUsed();
    for (let i = 0; i < 6000; i++) {
      const subject = { id: `u${i}`, roles: ROLES, attrs: { tenant: long(i, 'tenant') } };
      for (const check of checks) set.decide({ subject, ...check, context: { region: long(i, 'region') } });
    }
    const growth = heapUsed() - before;
    const stats = set.cacheStats();
    assert.equal(stats.maxBytes, BOUND);
    assert.ok(stats.bytes <= BOUND, `estimated ${stats.bytes} bytes`);
    assert.ok(stats.builds >= 12_000, 'every subject built its own abilities');
    assert.ok(growth <= BOUND, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  });

  it('pins at most 64 MiB of heap however many distinct placeholder values a /decide caller sends', async () => {
    const tg = await startTestInstance({ DECISION_LOG: 'off', LOG_LEVEL: 'warn' });
    try {
      assert.equal(
        (
          await tg.admin$('POST', '/policies', {
            files: shippedPolicyFiles().filter((f) => !f.name.endsWith('.test.yaml')),
          })
        ).status,
        201,
      );
      const { config } = await createMachineClient(tg, { name: 'gw', scope: 'decide', api: 'urn:tollgate' });
      const caller = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
      const decide = async (i: number) => {
        const response = await fetch(`${tg.url}/decide`, {
          method: 'POST',
          headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            subject: { id: `u${i}`, roles: ROLES, attrs: { tenant: long(i, 'tenant') } },
            checks,
            context: { region: long(i, 'region') },
          }),
        });
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      };
      await decide(-1);
      const before = heapUsed();
      const REQUESTS = 1500;
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < REQUESTS) await decide(next++);
        }),
      );
      const growth = heapUsed() - before;
      assert.ok(growth <= BOUND, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      await tg.close();
    }
  });
});
