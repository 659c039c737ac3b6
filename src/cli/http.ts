import type { IncomingMessage } from 'node:http';

/** An HTTP answer, read once: as text, or as a stream of chunks. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  ok: boolean;
  text(): Promise<string>;
  body: AsyncIterable<Buffer>;
}

export interface HttpRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string | undefined;
  /** Abort when no full answer has come within this many ms. */
  timeoutMs?: number | undefined;
}

/**
 * One request with node:http(s). Not fetch: Node loads fetch's implementation on first use,
 * which costs a short-lived command like `tollgate api list` a fifth of a second or more
 * (bench/cli-start.ts). Network errors are thrown as node:http gives them (`code` ECONNREFUSED…).
 */
export async function httpRequest(url: string, request: HttpRequest): Promise<HttpAnswer> {
  const { request: send } = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  const signal = request.timeoutMs === undefined ? undefined : AbortSignal.timeout(request.timeoutMs);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = send(url, { method: request.method, headers: request.headers, signal }, resolve);
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
  const status = response.statusCode ?? 0;
  return {
    status,
    statusText: response.statusMessage ?? '',
    ok: status >= 200 && status < 300,
    async text() {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    body: response,
  };
}
