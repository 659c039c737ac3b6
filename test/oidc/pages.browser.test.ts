import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { skipUnless } from '../helpers/capabilities.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const API = 'https://invoices.example.test';
/** The client's public pages (home, initiate_login_uri), answered inside the browser. */
const APP = 'https://app.example.test';
const LOGO = 'https://cdn.example.test/brand/logo.svg';
const ACCENT = '#c0392b';
const HOSTILE = '<img src=x onerror=alert(1)>';
const CLIENT_NAME = `${HOSTILE} Books & "Co"`;
const DESCRIPTION = `<script>alert(2)</script>Read your invoices`;
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="120" height="32" fill="#c0392b"/></svg>';
/**
 * What the functions run inside the page use of its globals: the project compiles without the
 * DOM's types, and these functions are sent to the browser as source.
 */
interface PageGlobals {
  document: { activeElement: { tagName: string; name?: string; textContent: string | null } | null };
  getComputedStyle(element: unknown): { backgroundColor: string; outlineStyle: string };
  Image: new () => { onload: (() => void) | null; onerror: (() => void) | null; src: string };
}

/** Set to a directory to keep a screenshot of every page the tests reach (never committed). */
const SHOTS = process.env.TOLLGATE_TEST_SCREENSHOTS;

describe('login, consent, logout and error pages in Chromium', { skip: skipUnless('chromium') }, () => {
  let tg: TestInstance;
  let browser: Browser;
  let clientId: string;
  let homeOnlyClientId: string;
  /**
   * The client's redirect URI, served for real on loopback: the browser reaches it through
   * redirects, which request interception does not see.
   */
  let callback: Server;
  let REDIRECT: string;
  const contexts: BrowserContext[] = [];
  /** Script the pages must never run: any dialog opened by injected markup. */
  const dialogs: string[] = [];

  before(async () => {
    callback = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!DOCTYPE html><title>app</title><h1>app</h1>');
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    const { port } = callback.address() as { port: number };
    REDIRECT = `http://127.0.0.1:${port}/cb`;
    tg = await startTestInstance({
      UI_PRODUCT_NAME: 'Acme ID',
      UI_LOGO_URL: LOGO,
      UI_ACCENT_COLOR: ACCENT,
      LOGIN_MAX_FAILURES: '3',
    });
    const api = await tg.admin$('POST', '/apis', {
      audience: API,
      name: 'Invoices',
      scopes: ['invoices:read', 'invoices:write'],
      scope_descriptions: { 'invoices:read': DESCRIPTION },
    });
    assert.equal(api.status, 201, await api.text());
    for (const [username, password] of [
      ['alice', 'alice-password-1'],
      ['bob', 'bob-password-1'],
      ['carol', 'carol-password-1'],
    ] as const) {
      await createUser(tg, { username, password });
    }
    const web = {
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      scope: 'invoices:read invoices:write',
      api: API,
    };
    ({ client_id: clientId } = await createClient(tg, {
      ...web,
      name: CLIENT_NAME,
      client_uri: `${APP}/`,
      initiate_login_uri: `${APP}/login`,
    }));
    ({ client_id: homeOnlyClientId } = await createClient(tg, {
      ...web,
      name: 'Home only',
      client_uri: `${APP}/home`,
    }));
    browser = await launchChromium();
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await tg?.close();
    callback?.close();
    assert.deepEqual(dialogs, [], 'no injected script ever ran');
  });

  /** A fresh browser profile (no cookies) whose requests to the client and the CDN never leave it. */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    await context.route(`${APP}/**`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!DOCTYPE html><title>app</title><h1>app</h1>' }),
    );
    await context.route('https://cdn.example.test/**', (route) =>
      route.fulfill({ contentType: 'image/svg+xml', body: LOGO_SVG }),
    );
    const page = await context.newPage();
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    return page;
  }

  async function shot(page: Page, name: string) {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  function authorizationUrl(client = clientId, overrides: Record<string, string> = {}): string {
    const url = new URL(`${tg.url}/auth`);
    for (const [k, v] of Object.entries({
      client_id: client,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid invoices:read',
      state: 'st4te',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...overrides,
    })) {
      url.searchParams.set(k, v);
    }
    return url.toString();
  }

  async function signIn(page: Page, username: string, password: string) {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
  }

  /**
   * Runs `action` and returns where the provider finally sent the browser: the client's
   * redirect URI with its answer.
   */
  async function redirectedToClient(page: Page, action: () => Promise<unknown>): Promise<URL> {
    await action();
    await page.waitForURL((url) => url.href.startsWith(REDIRECT));
    return new URL(page.url());
  }

  it('brands the login page and admits exactly the configured logo through its CSP', async () => {
    const page = await newPage();
    const response = await page.goto(authorizationUrl());
    assert.match(page.url(), /\/interaction\//);
    const policy = (await response?.headerValue('content-security-policy')) ?? '';
    assert.match(policy, /img-src 'self' https:\/\/cdn\.example\.test\/brand\/logo\.svg;/);
    assert.match(policy, /script-src 'self';/);
    assert.equal(await page.title(), 'Sign in · Acme ID');
    const logo = page.getByRole('img', { name: 'Acme ID' });
    await logo.waitFor();
    assert.ok(
      await logo.evaluate((img) => {
        const { complete, naturalWidth } = img as unknown as { complete: boolean; naturalWidth: number };
        return complete && naturalWidth > 0;
      }),
      'the logo loaded',
    );
    // The policy names the logo, not its origin: another image there stays blocked.
    const other = await page.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const img = new (globalThis as unknown as PageGlobals).Image();
          img.onload = () => resolve('loaded');
          img.onerror = () => resolve('blocked');
          img.src = 'https://cdn.example.test/brand/other.svg';
        }),
    );
    assert.equal(other, 'blocked');
    const button = page.getByRole('button', { name: 'Sign in' });
    assert.equal(
      await button.evaluate(
        (b) => (globalThis as unknown as PageGlobals).getComputedStyle(b).backgroundColor,
      ),
      'rgb(192, 57, 43)',
    );
    assert.match(
      (await page.locator('main').textContent()) ?? '',
      /to continue to <img src=x onerror=alert\(1\)> Books & "Co"/,
    );
    await shot(page, 'login');
  });

  it('shows the same message for a wrong password and an unknown user, and echoes no password', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl());
    await signIn(page, 'alice', 'not-the-password-7');
    const alert = page.getByRole('alert');
    assert.equal(await alert.textContent(), 'Invalid username or password.');
    await shot(page, 'login-wrong-password');
    const html = await page.content();
    assert.ok(!html.includes('not-the-password-7'), 'the password is not sent back');
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    assert.equal(await page.getByLabel('Username').inputValue(), 'alice');

    await signIn(page, 'nobody-here', 'not-the-password-7');
    assert.equal(await page.getByRole('alert').textContent(), 'Invalid username or password.');
  });

  it('locks a username out after repeated failures and says when to try again', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl());
    for (let i = 0; i < 3; i++) await signIn(page, 'carol', `wrong-${i}-password`);
    assert.match(
      (await page.getByRole('alert').textContent()) ?? '',
      /^Too many failed sign-ins\. Try again in \d+ seconds\.$/,
    );
    await shot(page, 'login-locked');
    // Locked means locked: the right password is refused the same way.
    await signIn(page, 'carol', 'carol-password-1');
    assert.match((await page.getByRole('alert').textContent()) ?? '', /^Too many failed sign-ins/);
    assert.match(page.url(), /\/interaction\//);
  });

  it('asks consent naming the user and describing scopes in words, and gives the client a code on Allow', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl());
    await signIn(page, 'alice', 'alice-password-1');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Authorize');
    const main = (await page.locator('main').textContent()) ?? '';
    assert.match(main, /Signed in as alice\./);
    assert.match(main, /Access to Invoices https:\/\/invoices\.example\.test:/);
    assert.ok(main.includes(`${DESCRIPTION} invoices:read`), 'the description, escaped, beside the code');
    assert.ok(main.includes('Know who you are'), 'openid in words');
    assert.ok(main.includes(`${CLIENT_NAME} asks for:`));
    assert.equal(await page.locator('script').count(), 0, 'no markup from a description or a name');
    assert.equal(await page.locator('img').count(), 1, 'only the logo');
    await shot(page, 'consent');
    const back = await redirectedToClient(page, () => page.getByRole('button', { name: 'Allow' }).click());
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), 'st4te');
  });

  it('sends access_denied to the client on Deny', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl());
    await signIn(page, 'bob', 'bob-password-1');
    const back = await redirectedToClient(page, () => page.getByRole('button', { name: 'Deny' }).click());
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('code'), null);
    assert.equal(back.searchParams.get('state'), 'st4te');
  });

  it('switches account from the consent page: back to the login of the same request', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl(clientId, { state: 'switch-state' }));
    await signIn(page, 'alice', 'alice-password-1');
    const aliceConsent = page.url();
    await page.getByRole('button', { name: 'Not you?' }).click();
    await page.waitForLoadState();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    await shot(page, 'switched');
    await signIn(page, 'bob', 'bob-password-1');
    assert.match((await page.locator('main').textContent()) ?? '', /Signed in as bob\./);
    const back = await redirectedToClient(page, () => page.getByRole('button', { name: 'Allow' }).click());
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), 'switch-state', 'the same authorization request');
    // Alice's consent page is spent: the browser is shown the error page.
    await page.goto(aliceConsent);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Something went wrong');
    await shot(page, 'spent-consent');
  });

  it('signs out through the logout page, after which a new request asks to sign in again', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl());
    await signIn(page, 'alice', 'alice-password-1');
    await redirectedToClient(page, () => page.getByRole('button', { name: 'Allow' }).click());
    // Signed in: the next request goes straight back to the client.
    const again = await redirectedToClient(page, () =>
      page.goto(authorizationUrl(clientId, { state: 'again' })),
    );
    assert.equal(again.searchParams.get('state'), 'again');
    assert.ok(again.searchParams.get('code'));

    await page.goto(`${tg.url}/session/end`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out');
    await shot(page, 'logout');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForLoadState();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Signed out');
    await shot(page, 'logged-out');
    await page.goto(authorizationUrl());
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  });

  it("offers the way back to the client's initiate_login_uri on the error page, escaped", async () => {
    const page = await newPage();
    await page.goto(authorizationUrl(clientId, { redirect_uri: 'https://evil.example.test/cb' }));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Something went wrong');
    assert.match((await page.locator('main').textContent()) ?? '', /invalid_redirect_uri/);
    const link = page.getByRole('link');
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), `${APP}/login`);
    assert.equal(await link.textContent(), `Sign in again at ${CLIENT_NAME}`);
    assert.equal(await page.locator('img').count(), 1, 'only the logo');
    await shot(page, 'error');
    await link.click();
    await page.waitForURL(`${APP}/login`);
  });

  it("links to the client's home when it has no initiate_login_uri, and nowhere for an unknown client", async () => {
    const page = await newPage();
    await page.goto(authorizationUrl(homeOnlyClientId, { redirect_uri: 'https://evil.example.test/cb' }));
    assert.equal(await page.getByRole('link').getAttribute('href'), `${APP}/home`);
    assert.equal(await page.getByRole('link').textContent(), 'Back to Home only');
    await page.goto(authorizationUrl('cl_nobody'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Something went wrong');
    assert.equal(await page.getByRole('link').count(), 0);
  });

  it('can be used with the keyboard alone: sign in, reach Allow with Tab, confirm with Enter', async () => {
    const page = await newPage();
    await page.goto(authorizationUrl(clientId, { state: 'keys' }));
    const focused = () =>
      page.evaluate(() => {
        const el = (globalThis as unknown as PageGlobals).document.activeElement;
        return `${el?.tagName.toLowerCase()}:${el?.name || el?.textContent?.trim()}`;
      });
    assert.equal(await focused(), 'input:username', 'the username field has the focus on arrival');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'input:password');
    await page.keyboard.type('alice-password-1');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/interaction\//);
    await page.getByRole('heading', { name: 'Authorize' }).waitFor();
    // The heading can be there before the stylesheet: its focus style is what is checked below.
    await page.waitForLoadState();
    const order: string[] = [];
    for (let i = 0; i < 6 && order.at(-1) !== 'button:Allow'; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    assert.deepEqual(order, ['button:Not you?', 'button:Allow'], 'Tab order on the consent page');
    const outline = await page.evaluate(() => {
      const w = globalThis as unknown as PageGlobals;
      return w.getComputedStyle(w.document.activeElement).outlineStyle;
    });
    assert.equal(outline, 'solid', 'the focused control is visibly marked');
    await shot(page, 'keyboard-consent');
    const back = await redirectedToClient(page, () => page.keyboard.press('Enter'));
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), 'keys');
  });
});
