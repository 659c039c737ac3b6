import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, formField } from '../helpers/browser.ts';
import { createApi, createUser, WEB_REDIRECT } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const API = 'https://ledger.example.test';

/** What the browser test cannot see: the boundaries of what the pages added, over plain HTTP. */
describe('page boundaries (switch account, ways back, branding)', () => {
  let tg: TestInstance;
  let clientId: string;

  before(async () => {
    tg = await startTestInstance({ UI_ACCENT_COLOR: '#0a0' });
    await createApi(tg, { audience: API, scopes: ['read'] });
    await createUser(tg, { username: 'dave', password: 'dave-password-1' });
    const created = await tg.admin$('POST', '/clients', {
      name: 'Ledger web',
      grant_types: ['authorization_code'],
      redirect_uris: [WEB_REDIRECT],
      scope: 'read',
      api: API,
      client_uri: 'https://ledger-app.example.test/',
    });
    assert.equal(created.status, 201);
    ({ client_id: clientId } = (await created.json()) as { client_id: string });
  });
  after(() => tg.close());

  for (const [field, value] of [
    ['client_uri', 'javascript:alert(1)'],
    ['client_uri', 'data:text/html,<script>alert(1)</script>'],
    ['initiate_login_uri', 'http://ledger-app.example.test/login'],
    ['initiate_login_uri', 'JavaScript:alert(1)//https://x'],
  ] as const) {
    it(`refuses ${field} ${value}: only links the error page may offer`, async () => {
      const response = await tg.admin$('POST', '/clients', {
        name: 'bad',
        grant_types: ['authorization_code'],
        redirect_uris: [WEB_REDIRECT],
        [field]: value,
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_request');
      assert.match(body.error_description, new RegExp(`^${field}: must be an absolute`));
    });
  }

  it('serves the stylesheet in the accent colour and keeps the default CSP without a logo', async () => {
    const { browser, uid } = await atLogin();
    const page = await (await browser.request(`${tg.url}/interaction/${uid}`)).text();
    const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page)?.[1] ?? '';
    assert.match(href, /^\/assets\/tollgate\.css\?v=[\w-]{10}$/, 'versioned: a new colour is a new URL');
    const css = await fetch(`${tg.url}${href}`);
    assert.equal(css.status, 200);
    assert.match(await css.text(), /button\{[^}]*background:#0a0/);
    assert.match(css.headers.get('content-security-policy') ?? '', /img-src 'self';/);
  });

  /** A fresh authorization request standing at its login page. */
  async function atLogin() {
    const browser = new Browser();
    const url = new URL(`${tg.url}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: WEB_REDIRECT,
      scope: 'openid read',
      state: 'xyz',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const login = await browser.follow(url.toString(), tg.issuer);
    const html = await login.response.text();
    const uid = /\/interaction\/([^/"]+)\/login/.exec(html)?.[1] ?? '';
    return { browser, uid, csrf: formField(html, 'csrf') };
  }

  /** The same, signed in as dave and standing at its consent page. */
  async function atConsent() {
    const { browser, uid, csrf } = await atLogin();
    const consent = await browser.follow(`${tg.url}/interaction/${uid}/login`, tg.issuer, {
      form: { csrf, username: 'dave', password: 'dave-password-1' },
    });
    const html = await consent.response.text();
    assert.match(html, /Signed in as <strong>dave<\/strong>/);
    const consentUid = /\/interaction\/([^/"]+)\/switch/.exec(html)?.[1] ?? '';
    return { browser, uid: consentUid, csrf: formField(html, 'csrf') };
  }

  it("refuses to switch account without the consent page's CSRF token or its session, and keeps it", async () => {
    const { browser, uid, csrf } = await atConsent();
    for (const form of [{}, { csrf: 'forged' }, { csrf: `${csrf}x` }] as Record<string, string>[]) {
      const response = await browser.request(`${tg.url}/interaction/${uid}/switch`, { form });
      assert.equal(response.status, 403);
      assert.equal(((await response.json()) as { error: string }).error, 'access_denied');
    }
    // The right token from another browser (not signed in as dave) ends nobody's session.
    const elsewhere = await new Browser().request(`${tg.url}/interaction/${uid}/switch`, { form: { csrf } });
    assert.equal(elsewhere.status, 400);
    const still = await browser.request(`${tg.url}/interaction/${uid}`);
    assert.match(await still.text(), /Signed in as <strong>dave<\/strong>/);
  });

  it('switching ends the session and restarts the same request with prompt=login', async () => {
    const { browser, uid, csrf } = await atConsent();
    const response = await browser.request(`${tg.url}/interaction/${uid}/switch`, { form: { csrf } });
    assert.equal(response.status, 303);
    const again = new URL(response.headers.get('location') ?? '', tg.issuer);
    assert.equal(again.origin, new URL(tg.issuer).origin, 'never off to another origin');
    assert.equal(again.pathname, '/auth');
    assert.equal(again.searchParams.get('prompt'), 'login');
    assert.equal(again.searchParams.get('state'), 'xyz');
    assert.equal(again.searchParams.get('client_id'), clientId);
    // The old consent page is spent: neither shown nor confirmable.
    assert.equal((await browser.request(`${tg.url}/interaction/${uid}`)).status, 400);
    const allow = await browser.request(`${tg.url}/interaction/${uid}/confirm`, { form: { csrf } });
    assert.equal(allow.status, 400);
    // The session is gone: even without prompt=login, a new request asks to sign in.
    again.searchParams.delete('prompt');
    const next = await browser.follow(again.toString(), tg.issuer);
    assert.match(await next.response.text(), /name="password"/);
  });

  it('shows a browser the error page, not JSON, for a spent or unknown sign-in request', async () => {
    const { browser, uid, csrf } = await atConsent();
    await browser.request(`${tg.url}/interaction/${uid}/switch`, { form: { csrf } });
    const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    for (const path of [`/interaction/${uid}`, '/interaction/unknown-request']) {
      const response = await fetch(`${tg.url}${path}`, { headers: html });
      assert.equal(response.status, 400);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      const page = await response.text();
      assert.match(page, /<h1>Something went wrong<\/h1>/);
      assert.match(page, /this sign-in request has expired or is unknown/);
    }
    const api = await fetch(`${tg.url}/interaction/unknown-request`);
    assert.equal(
      ((await api.json()) as { error: string }).error,
      'invalid_request',
      'JSON for other callers',
    );
  });

  it('refuses a switch where nobody is signed in yet (the login page)', async () => {
    const { browser, uid, csrf } = await atLogin();
    const response = await browser.request(`${tg.url}/interaction/${uid}/switch`, { form: { csrf } });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request',
      error_description: 'this request has no signed-in account to switch',
    });
  });
});
