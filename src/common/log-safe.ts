/**
 * A request target as it may be logged: the path as sent, and the query with every value
 * replaced (`/a?api_key=[redacted]&page=[redacted]`). Clients put credentials in query strings
 * (`api_key`, `access_token`, signed URLs), and logs travel further than the request did
 * (issue 9). Parameter names are kept: they say what was sent without saying what it was.
 * A fragment, which no client should send, is dropped.
 */
export function redactTarget(target: string): string {
  const hash = target.indexOf('#');
  const withoutFragment = hash === -1 ? target : target.slice(0, hash);
  const start = withoutFragment.indexOf('?');
  if (start === -1) return withoutFragment;
  const names = withoutFragment
    .slice(start + 1)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      // A bare `?value` is a value; a name is logged only if it is short and plain, since
      // anything else could itself be a secret.
      if (eq === -1) return '[redacted]';
      const name = pair.slice(0, eq);
      return `${/^[A-Za-z0-9_.[\]-]{1,64}$/.test(name) ? name : '[redacted]'}=[redacted]`;
    });
  return `${withoutFragment.slice(0, start)}?${names.join('&')}`;
}
