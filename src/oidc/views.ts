import { createHash } from 'node:crypto';

/**
 * Server-rendered pages. No script at all, one same-origin stylesheet, every dynamic value
 * escaped: the Content-Security-Policy set in http/ forbids anything else.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** UI_PRODUCT_NAME, UI_LOGO_URL and UI_ACCENT_COLOR, validated by the config schema. */
export interface Branding {
  productName: string;
  /** An https URL or a path on this origin; undefined: the product name stands alone. */
  logoUrl: string | undefined;
  /** `#rgb` or `#rrggbb`. */
  accentColor: string;
}

export const DEFAULT_BRANDING: Branding = {
  productName: 'Tollgate',
  logoUrl: undefined,
  accentColor: '#2457c5',
};

export interface LoginView {
  uid: string;
  csrf: string;
  clientName: string;
  username?: string;
  error?: string;
}

export interface ScopeView {
  name: string;
  /** What the scope lets the client do, in words; undefined: only its name is known. */
  description?: string;
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  /** The signed-in user's name, with the way to switch account ("not you?"). */
  account: string;
  scopes: ScopeView[];
  apis: { name: string; audience: string; scopes: ScopeView[] }[];
}

export interface ErrorView {
  error: string;
  description?: string;
  /** A way back to the client; only http(s) URLs are ever linked. */
  back?: { href: string; label: string };
}

/** Every page, rendered with one branding. */
export interface Pages {
  login(view: LoginView): string;
  consent(view: ConsentView): string;
  error(view: ErrorView): string;
  /** `form` is oidc-provider's own hidden form (it carries its xsrf token); buttons submit it. */
  logout(form: string): string;
  logoutSuccess(): string;
  readonly stylesheet: string;
  /**
   * Image URLs the pages load from another origin (an https logo), for the CSP's img-src: the
   * exact URL, so the policy admits that one file and no other.
   */
  readonly imageSources: readonly string[];
}

export function createPages(branding: Branding = DEFAULT_BRANDING): Pages {
  const css = stylesheet(branding.accentColor);
  // The stylesheet is cached for an hour: a new accent colour gets a new URL.
  const cssVersion = createHash('sha256').update(css).digest('base64url').slice(0, 10);
  const brand = branding.logoUrl
    ? `<img class="logo" src="${escapeHtml(branding.logoUrl)}" alt="${escapeHtml(branding.productName)}">`
    : `<p class="brand">${escapeHtml(branding.productName)}</p>`;

  function page(title: string, body: string): string {
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(branding.productName)}</title>
<link rel="stylesheet" href="/assets/tollgate.css?v=${cssVersion}">
</head>
<body>
<main class="card">
${brand}
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
  }

  const form = (uid: string, csrf: string, action: string, inner: string, cls = '') =>
    `<form method="post" action="/interaction/${escapeHtml(uid)}/${action}"${cls ? ` class="${cls}"` : ''}>
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
${inner}
</form>`;

  const scopeList = (scopes: ScopeView[]) =>
    `<ul class="scopes">${scopes
      .map((s) =>
        s.description
          ? `<li>${escapeHtml(s.description)} <code>${escapeHtml(s.name)}</code></li>`
          : `<li><code>${escapeHtml(s.name)}</code></li>`,
      )
      .join('')}</ul>`;

  return {
    login(view) {
      const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
      return page(
        'Sign in',
        `<p>to continue to <strong>${escapeHtml(view.clientName)}</strong></p>
${error}
${form(
  view.uid,
  view.csrf,
  'login',
  `<label>Username <input name="username" required autofocus autocomplete="username" value="${escapeHtml(view.username ?? '')}"></label>
<label>Password <input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button>`,
)}
${form(view.uid, view.csrf, 'abort', '<button type="submit" class="secondary">Cancel</button>')}`,
      );
    },

    consent(view) {
      const apis = view.apis
        .map(
          (a) =>
            `<p>Access to <strong>${escapeHtml(a.name)}</strong> <small>${escapeHtml(a.audience)}</small>:</p>${scopeList(a.scopes)}`,
        )
        .join('');
      const scopes = view.scopes.length > 0 ? `<p>Your identity:</p>${scopeList(view.scopes)}` : '';
      return page(
        'Authorize',
        `${form(
          view.uid,
          view.csrf,
          'switch',
          `<p class="account">Signed in as <strong>${escapeHtml(view.account)}</strong>.
<button type="submit" class="link">Not you?</button></p>`,
        )}
<p><strong>${escapeHtml(view.clientName)}</strong> asks for:</p>
${scopes}${apis}
${form(view.uid, view.csrf, 'confirm', '<button type="submit">Allow</button>')}
${form(view.uid, view.csrf, 'abort', '<button type="submit" class="secondary">Deny</button>')}`,
      );
    },

    error(view) {
      const back = view.back && isWebUrl(view.back.href) ? view.back : undefined;
      return page(
        'Something went wrong',
        `<p><code>${escapeHtml(view.error)}</code></p><p>${escapeHtml(view.description ?? '')}</p>${
          back ? `<p><a class="back" href="${escapeHtml(back.href)}">${escapeHtml(back.label)}</a></p>` : ''
        }`,
      );
    },

    logout(logoutForm) {
      return page(
        'Sign out',
        `${logoutForm}<p>Do you want to sign out?</p>
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`,
      );
    },

    logoutSuccess() {
      return page('Signed out', '<p>You are signed out.</p>');
    },

    stylesheet: css,
    imageSources: branding.logoUrl?.startsWith('https:') ? [branding.logoUrl] : [],
  };
}

/** Only http(s) links reach a page: never `javascript:` or `data:`, whatever was stored. */
export function isWebUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const url = URL.parse(value);
  return url !== null && (url.protocol === 'https:' || url.protocol === 'http:');
}

/** `accent` is validated (#rgb or #rrggbb) by the config schema before it gets here. */
function stylesheet(accent: string): string {
  return `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}
.card{max-width:24rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
.brand{font-weight:600;color:${accent};margin:0}.logo{display:block;max-height:3rem;max-width:100%}
h1{font-weight:400;font-size:1.6rem}label{display:block;margin:.75rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{width:100%;padding:.6rem;margin-top:.5rem;font-size:1rem;border:0;border-radius:4px;background:${accent};color:#fff;cursor:pointer}
button.secondary{background:none;color:#555}button.link{width:auto;padding:0;margin:0;background:none;color:${accent};text-decoration:underline}
a{color:${accent}}:focus-visible{outline:3px solid ${accent};outline-offset:2px}
.error{color:#b00020}code{background:#eef;padding:0 .2rem}small{color:#666;word-break:break-all}
.scopes li{margin:.25rem 0}.scopes code{font-size:.8rem}.account{margin-top:0}`;
}
