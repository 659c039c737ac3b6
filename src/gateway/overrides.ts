import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers through which frameworks let a client replace the request method (Express's
 * method-override, Symfony, Spring's HiddenHttpMethodFilter, Google's and Microsoft's APIs).
 */
export const METHOD_OVERRIDE_HEADERS = [
  'x-http-method-override',
  'x-method-override',
  'x-http-method',
] as const;

/** The query and form parameter Rails, Laravel and method-override read as the real method. */
const METHOD_OVERRIDE_PARAMETER = '_method';

/**
 * Why a forwarded request is refused for asking for another method, or undefined. The gateway
 * decides on the method it saw (a GET), while the upstream framework may act on the overridden
 * one (a DELETE): issue 9. We refuse rather than decide on the override, since which of several
 * overrides an upstream honours (and whether at all) is its own configuration.
 *
 * NGINX's auth subrequest carries the client's headers as they are; Traefik and Envoy pass only
 * the headers their configuration names (examples/ name these). The query comes with the target.
 */
export function methodOverride(headers: IncomingHttpHeaders, target: string): string | undefined {
  for (const name of METHOD_OVERRIDE_HEADERS) {
    if (headers[name] !== undefined) return `${name}: method overrides are refused`;
  }
  const start = target.indexOf('?');
  if (start === -1) return undefined;
  const end = target.indexOf('#', start);
  const query = target.slice(start + 1, end === -1 ? undefined : end);
  // "&" and ";" both separate parameters for some frameworks; names compare case-blind and
  // decoded, so `%5Fmethod` and `_METHOD` are caught too.
  for (const pair of query.split(/[&;]/)) {
    const eq = pair.indexOf('=');
    const name = decodeLoosely(eq === -1 ? pair : pair.slice(0, eq))
      .trim()
      .toLowerCase();
    // `_method[]=…` too: PHP and Rack read bracketed names as the same parameter.
    if (name === METHOD_OVERRIDE_PARAMETER || name.startsWith(`${METHOD_OVERRIDE_PARAMETER}[`))
      return `query: the ${METHOD_OVERRIDE_PARAMETER} parameter (a method override) is refused`;
  }
  return undefined;
}

function decodeLoosely(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return value;
  }
}
