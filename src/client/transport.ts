import { TollgateRequestError, TollgateUnavailableError } from './errors.ts';

/**
 * The part of `fetch` the client uses, so a service may pass its own (a proxy agent, a counter,
 * instrumentation) without depending on any particular fetch typing.
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ status: number; json(): Promise<unknown> }>;

export interface Transport {
  fetch: FetchLike;
  timeoutMs: number;
}

/**
 * One HTTP exchange with Tollgate: a JSON answer for 2xx, TollgateRequestError (OAuth shape) for
 * 4xx, TollgateUnavailableError for a timeout, a network failure, a 5xx, a 429 (this caller is
 * over its rate limit: no answer now, like an outage, and fail-closed the same way) or an answer
 * that is not JSON. The timeout covers the whole exchange, body included.
 */
export async function exchange(
  transport: Transport,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<unknown> {
  const signal = AbortSignal.timeout(transport.timeoutMs);
  let status: number;
  let body: unknown;
  try {
    const response = await transport.fetch(url, { ...init, signal });
    status = response.status;
    body = await response.json().catch(() => undefined);
  } catch (cause) {
    if (signal.aborted)
      throw new TollgateUnavailableError(
        'timeout',
        `no answer from ${url} within ${transport.timeoutMs} ms`,
        {
          cause,
        },
      );
    throw new TollgateUnavailableError('unreachable', `${url} is unreachable`, { cause });
  }
  if (status >= 500) throw new TollgateUnavailableError('server_error', `${url} answered ${status}`);
  if (status === 429)
    throw new TollgateUnavailableError('rate_limited', `${url} answered 429: this caller asks too often`);
  if (status >= 400) {
    const error = body as { error?: unknown; error_description?: unknown } | undefined;
    throw new TollgateRequestError(
      status,
      typeof error?.error === 'string' ? error.error : 'invalid_request',
      typeof error?.error_description === 'string' ? error.error_description : `HTTP ${status}`,
    );
  }
  if (body === undefined) throw new TollgateUnavailableError('server_error', `${url} answered without JSON`);
  return body;
}
