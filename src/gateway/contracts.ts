import type { IncomingHttpHeaders } from 'node:http';

export type GatewayKind = 'nginx' | 'traefik' | 'envoy';

/** Where forward-auth lives; Envoy appends the original path to `/decide/forward/envoy`. */
export const FORWARD_PREFIX = '/decide/forward/';

/** The request a gateway asks about, as it reports it. */
export interface OriginalRequest {
  method: string;
  /** Path and query as the client sent them (still percent-encoded). */
  target: string;
  host: string | undefined;
}

export interface GatewayContract {
  kind: GatewayKind;
  /** The original request, or which header is missing or malformed. */
  original(method: string, url: string, headers: IncomingHttpHeaders): OriginalRequest | string;
  /**
   * Status for a request we refuse as malformed (path confusion). NGINX's auth_request knows
   * only 2xx, 401 and 403 (anything else becomes a 500 for the client), so it gets 403.
   */
  refuseStatus: 400 | 403;
  /**
   * Answer without a body. NGINX never shows the subrequest's body to anyone, and it cannot
   * keep an upstream connection alive after a body it did not read (auth_request subrequests are
   * header-only): every answer with a body would cost a new TCP connection to Tollgate.
   */
  emptyBody: boolean;
}

const METHOD = /^[A-Z]{1,16}$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function fromHeaders(
  headers: IncomingHttpHeaders,
  names: { method: string; uri: string; host?: string },
): OriginalRequest | string {
  const method = header(headers, names.method);
  const target = header(headers, names.uri);
  if (method === undefined || !METHOD.test(method))
    return `${names.method}: the gateway must send the original method`;
  if (target === undefined || target === '') return `${names.uri}: the gateway must send the original URI`;
  return { method, target, host: names.host ? header(headers, names.host) : undefined };
}

/**
 * The three gateway contracts (examples/ has a working configuration of each):
 * - NGINX `auth_request`: `X-Original-Method` and `X-Original-URI` ($request_uri) set by
 *   `proxy_set_header` in the auth location;
 * - Traefik ForwardAuth: always a GET, with `X-Forwarded-Method`, `X-Forwarded-Uri`,
 *   `X-Forwarded-Host` and `X-Forwarded-Proto`;
 * - Envoy ext_authz (HTTP service): the original method, and the original path appended to
 *   `path_prefix: /decide/forward/envoy`.
 */
export const CONTRACTS: Readonly<Record<GatewayKind, GatewayContract>> = {
  nginx: {
    kind: 'nginx',
    refuseStatus: 403,
    emptyBody: true,
    original: (_method, _url, headers) =>
      fromHeaders(headers, { method: 'x-original-method', uri: 'x-original-uri' }),
  },
  traefik: {
    kind: 'traefik',
    refuseStatus: 400,
    emptyBody: false,
    original: (_method, _url, headers) =>
      fromHeaders(headers, {
        method: 'x-forwarded-method',
        uri: 'x-forwarded-uri',
        host: 'x-forwarded-host',
      }),
  },
  envoy: {
    kind: 'envoy',
    refuseStatus: 400,
    emptyBody: false,
    original(method, url, headers) {
      const target = url.slice(`${FORWARD_PREFIX}envoy`.length);
      if (!target.startsWith('/'))
        return 'path: Envoy must append the original path to /decide/forward/envoy';
      if (!METHOD.test(method)) return 'method: not an HTTP method';
      return { method, target, host: header(headers, 'host') };
    },
  },
};

/** The contract a forward-auth URL addresses, or undefined when it is none of them. */
export function contractFor(url: string): GatewayContract | undefined {
  if (!url.startsWith(FORWARD_PREFIX)) return undefined;
  const rest = url.slice(FORWARD_PREFIX.length);
  if (rest === 'nginx' || rest.startsWith('nginx?')) return CONTRACTS.nginx;
  if (rest === 'traefik' || rest.startsWith('traefik?')) return CONTRACTS.traefik;
  // Whatever follows "envoy" is the original path; envoy() refuses one that is not absolute.
  if (rest.startsWith('envoy')) return CONTRACTS.envoy;
  return undefined;
}
