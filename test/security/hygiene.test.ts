import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, loginThroughForms } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

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
