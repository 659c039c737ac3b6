import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constantTimeEqual } from '../common/index.ts';
import { failure } from './errors.ts';

const CALLBACK_PATH = '/callback';

/** What the authorization server sent the browser back with (RFC 6749 §4.1.2). */
export interface AuthorizationResponse {
  code: string;
  /** RFC 9207's issuer identifier, when the server sends one. */
  iss: string | undefined;
}

export interface LoopbackRedirect {
  /** `http://127.0.0.1:<port>/callback`, the redirect URI to send. */
  redirectUri: string;
  /**
   * Waits for the browser's redirect to the callback. Rejects when its `state` is not `state`
   * (a stale or forged redirect), when it carries `error=`, or after `timeoutMs`.
   */
  response(state: string, timeoutMs: number): Promise<AuthorizationResponse>;
  close(): void;
}

/**
 * RFC 8252 §7.3: listens on the loopback IP literal (not `localhost`, §8.3, which may resolve
 * elsewhere or to the other address family) on `port`, or on a port the OS picks when it is 0.
 */
export async function listenForRedirect(port: number): Promise<LoopbackRedirect> {
  let answer: ((url: URL, reply: ServerResponse) => void) | undefined;
  const server = createServer((request, reply) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    // Browsers also ask for /favicon.ico and the like; only the callback ends the wait.
    if (request.method !== 'GET' || url.pathname !== CALLBACK_PATH || !answer) {
      page(reply, 404, 'Not found.');
      return;
    }
    answer(url, reply);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenFailure(port, error)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;

  return {
    redirectUri: `http://127.0.0.1:${bound}${CALLBACK_PATH}`,
    response(state, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          answer = undefined;
          reject(failure(`no login within ${Math.round(timeoutMs / 1000)} s (raise it with --timeout)`));
        }, timeoutMs);
        answer = (url, reply) => {
          answer = undefined;
          clearTimeout(timer);
          const params = url.searchParams;
          if (!constantTimeEqual(params.get('state') ?? '', state)) {
            page(reply, 400, 'This sign-in response does not belong to the login waiting here.');
            reject(
              failure(
                'the login callback carried another state (a stale or forged redirect); run login again',
              ),
            );
            return;
          }
          const error = params.get('error');
          if (error !== null) {
            const description = params.get('error_description');
            page(reply, 200, 'Sign-in did not complete. You can close this tab.');
            reject(failure(`the login was refused: ${error}${description ? `: ${description}` : ''}`));
            return;
          }
          const code = params.get('code');
          if (!code) {
            page(reply, 400, 'This sign-in response carries no code.');
            reject(failure('the login callback carried neither code nor error'));
            return;
          }
          page(reply, 200, 'Signed in. You can close this tab and return to the terminal.');
          resolve({ code, iss: params.get('iss') ?? undefined });
        };
      });
    },
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}

/** Why the callback listener could not start; a port chosen with `--port` is named as such. */
function listenFailure(port: number, error: NodeJS.ErrnoException): Error {
  const where = `127.0.0.1:${port}`;
  if (port === 0)
    return failure(`cannot listen on 127.0.0.1 for the login callback: ${error.code ?? error.message}`);
  if (error.code === 'EADDRINUSE') {
    return failure(
      `--port ${port}: ${where} is already in use by another program; stop it, or register another port in the client's redirect URI and pass that`,
    );
  }
  if (error.code === 'EACCES') {
    return failure(`--port ${port}: not allowed to listen on ${where} (ports below 1024 need privileges)`);
  }
  return failure(
    `--port ${port}: cannot listen on ${where} for the login callback: ${error.code ?? error.message}`,
  );
}

// Plain text: nothing from the request is echoed, so nothing can be injected into the page.
function page(reply: ServerResponse, status: number, text: string): void {
  reply.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
  });
  reply.end(`${text}\n`);
}
