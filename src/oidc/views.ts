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

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Tollgate</title>
<link rel="stylesheet" href="/assets/tollgate.css">
</head>
<body>
<main class="card">
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

export interface LoginView {
  uid: string;
  csrf: string;
  clientName: string;
  username?: string;
  error?: string;
}

export function renderLoginPage(view: LoginView): string {
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
  return page(
    'Sign in',
    `<p>to continue to <strong>${escapeHtml(view.clientName)}</strong></p>
${error}
<form method="post" action="/interaction/${escapeHtml(view.uid)}/login" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<label>Username <input name="username" required autofocus autocomplete="username" value="${escapeHtml(view.username ?? '')}"></label>
<label>Password <input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escapeHtml(view.uid)}/abort">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<button type="submit" class="secondary">Cancel</button>
</form>`,
  );
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  scopes: string[];
  apis: { audience: string; scopes: string[] }[];
}

export function renderConsentPage(view: ConsentView): string {
  const list = (items: string[]) => items.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('');
  const apis = view.apis
    .map((a) => `<p>Access to <strong>${escapeHtml(a.audience)}</strong>:</p><ul>${list(a.scopes)}</ul>`)
    .join('');
  const scopes = view.scopes.length > 0 ? `<p>Your identity:</p><ul>${list(view.scopes)}</ul>` : '';
  return page(
    'Authorize',
    `<p><strong>${escapeHtml(view.clientName)}</strong> asks for:</p>
${scopes}${apis}
<form method="post" action="/interaction/${escapeHtml(view.uid)}/confirm">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<button type="submit">Allow</button>
</form>
<form method="post" action="/interaction/${escapeHtml(view.uid)}/abort">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<button type="submit" class="secondary">Deny</button>
</form>`,
  );
}

export function renderErrorPage(error: string, description?: string): string {
  return page(
    'Something went wrong',
    `<p><code>${escapeHtml(error)}</code></p><p>${escapeHtml(description ?? '')}</p>`,
  );
}

/** `form` is oidc-provider's own hidden form (it carries its xsrf token); buttons submit it. */
export function renderLogoutPage(form: string): string {
  return page(
    'Sign out',
    `${form}<p>Do you want to sign out?</p>
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`,
  );
}

export function renderLogoutSuccessPage(): string {
  return page('Signed out', '<p>You are signed out.</p>');
}

export const STYLESHEET = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}
.card{max-width:22rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-weight:400;font-size:1.6rem}label{display:block;margin:.75rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{width:100%;padding:.6rem;margin-top:.5rem;font-size:1rem;border:0;border-radius:4px;background:#2457c5;color:#fff;cursor:pointer}
button.secondary{background:none;color:#555}.error{color:#b00020}code{background:#eef;padding:0 .2rem}`;
