/**
 * A minimal browser for the login flow over real HTTP: it keeps cookies, follows redirects by
 * hand (so the final redirect to the client is observed, not followed) and submits the real
 * HTML forms, CSRF field included.
 */
export class Browser {
  readonly #cookies = new Map<string, string>();
  /** Sent with every request (e.g. what a reverse proxy adds). */
  readonly headers: Record<string, string>;

  constructor(headers: Record<string, string> = {}) {
    this.headers = headers;
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers };
    if (this.#cookies.size > 0) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body: init.form ? new URLSearchParams(init.form) : undefined,
      redirect: 'manual',
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(cookie) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return response;
  }

  /** Follows redirects while they stay on `origin`; returns the first response that does not. */
  async follow(
    url: string,
    origin: string,
    init?: { form?: Record<string, string> },
  ): Promise<{ response: Response; url: string }> {
    let response = await this.request(url, init);
    let current = url;
    for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
      const location = new URL(response.headers.get('location') ?? '', current).toString();
      if (!location.startsWith(origin)) return { response, url: location };
      current = location;
      response = await this.request(current);
    }
    return { response, url: current };
  }
}

export function formField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match?.[1]) throw new Error(`no ${name} field in page`);
  return match[1];
}

export function formAction(html: string, suffix: string): string {
  const match = new RegExp(`action="([^"]*/${suffix})"`).exec(html);
  if (!match?.[1]) throw new Error(`no form posting to ${suffix}`);
  return match[1];
}

export interface LoginOutcome {
  /** The URL the browser was finally sent to (the client's redirect URI, with code or error). */
  redirect: URL;
}

/**
 * Drives an authorization request through the real login (and consent) pages and returns where
 * the provider finally redirects the browser.
 */
export async function loginThroughForms(
  browser: Browser,
  authorizationUrl: string,
  issuer: string,
  credentials: { username: string; password: string },
): Promise<LoginOutcome> {
  let step = await browser.follow(authorizationUrl, issuer);
  for (let pages = 0; pages < 4; pages++) {
    if (!step.url.startsWith(issuer)) return { redirect: new URL(step.url) };
    const html = await step.response.text();
    if (step.response.status !== 200)
      throw new Error(`unexpected ${step.response.status} at ${step.url}: ${html.slice(0, 300)}`);
    const csrf = formField(html, 'csrf');
    if (html.includes('name="password"')) {
      step = await browser.follow(new URL(formAction(html, 'login'), issuer).toString(), issuer, {
        form: { csrf, ...credentials },
      });
    } else {
      step = await browser.follow(new URL(formAction(html, 'confirm'), issuer).toString(), issuer, {
        form: { csrf },
      });
    }
  }
  throw new Error('login did not finish');
}

/** Submits the real login form once, from a fresh authorization request. */
export async function attemptLogin(
  tg: { url: string; issuer: string },
  clientId: string,
  username: string,
  password: string,
  redirectUri = 'https://app.example.test/cb',
  headers: Record<string, string> = {},
) {
  const browser = new Browser(headers);
  const url = new URL(`${tg.url}/auth`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  })) {
    url.searchParams.set(k, v);
  }
  const page = await browser.follow(url.toString(), tg.issuer);
  const html = await page.response.text();
  return browser.request(new URL(formAction(html, 'login'), tg.issuer).toString(), {
    form: { csrf: formField(html, 'csrf'), username, password },
  });
}
