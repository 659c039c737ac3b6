/** A request path reduced to the one form routes are matched on, or why it is refused. */
export type NormalizedPath = { ok: true; path: string; segments: string[] } | { ok: false; problem: string };

/** Encoded characters that change what a path means once someone decodes them again. */
const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
// Control characters and the separators some servers honour besides "/": backslash (IIS,
// Windows back ends) and ";" path parameters (Tomcat, Jetty drop `;…` before routing).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const FORBIDDEN_DECODED = /[\u0000-\u001f\u007f\\;]/;

/**
 * Reduces the original request target a gateway reports to the path the upstream will serve,
 * so the decision is about that resource and nothing else (the bypasses in gogatekeeper#485 and
 * oathkeeper#1003 all decide on one path and serve another):
 *
 * 1. strip the query (and a fragment, should a client send one);
 * 2. refuse encoded separators (`%2F`, `%5C`, `%00`): after one decoding they are ordinary
 *    characters to us but a slash or NUL to a back end that decodes again;
 * 3. percent-decode exactly once, refusing malformed escapes and anything still encoded
 *    (double encoding such as `%252e`), control characters, backslashes and `;` parameters;
 * 4. refuse `.` and `..` segments, raw or encoded (`%2e`, `.%2E`, …): NGINX's auth_request and
 *    Traefik forward the raw target, so a back end (or a proxy behind it) may resolve them
 *    differently than we would, and the decision must be about the path the upstream serves
 *    (issue 9);
 * 5. drop empty segments (duplicate slashes).
 *
 * Case is kept: whether `/Admin` is `/admin` is the route's business.
 */
export function normalizePath(target: string): NormalizedPath {
  const end = target.search(/[?#]/);
  const raw = end === -1 ? target : target.slice(0, end);
  if (!raw.startsWith('/')) return refuse('the path must start with "/"');
  if (ENCODED_SEPARATOR.test(raw)) return refuse('the path contains an encoded "/", "\\" or NUL');
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return refuse('the path contains a malformed percent-encoding');
  }
  if (decoded.includes('%')) return refuse('the path is percent-encoded more than once');
  if (FORBIDDEN_DECODED.test(decoded))
    return refuse('the path contains a control character, "\\" or ";" parameters');
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '') continue;
    if (segment === '.' || segment === '..') return refuse('the path contains a "." or ".." segment');
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join('/')}`, segments };
}

function refuse(problem: string): NormalizedPath {
  return { ok: false, problem };
}
