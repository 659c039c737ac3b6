/**
 * Forward-auth as Traefik asks it (`/decide/forward/traefik`): the gateway's key and the
 * original request of `GET /invoices/1` at api.example.test over https, plus `headers` (the end
 * user's Authorization, a certificate header, …).
 */
export function askAsTraefik(
  tollgateUrl: string,
  gatewayKey: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${tollgateUrl}/decide/forward/traefik`, {
    headers: {
      'x-tollgate-gateway-key': gatewayKey,
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/invoices/1',
      'x-forwarded-host': 'api.example.test',
      'x-forwarded-proto': 'https',
      ...headers,
    },
  });
}
