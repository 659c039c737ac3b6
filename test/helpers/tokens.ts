/** A client-credentials request with client_secret_basic, as a plain HTTP client sends it. */
export function requestToken(
  baseUrl: string,
  credentials: { client_id: string; client_secret?: string },
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const basic = Buffer.from(`${credentials.client_id}:${credentials.client_secret ?? ''}`).toString('base64');
  return fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: {
      ...headers,
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
}
