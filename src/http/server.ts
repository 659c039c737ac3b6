import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { SECURITY_HEADERS } from './middleware.ts';

/** Request line plus headers, in bytes; Node's own default, stated so the limit is a contract. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The HTTP server: header size bounded, and requests Node refuses before any handler runs
 * (headers too large, malformed HTTP) answered in OAuth's error shape like everything else,
 * instead of Node's bare status line.
 */
export function createHttpServer(listener: RequestListener, logger: Logger): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, listener);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (error.code === 'ECONNRESET' && socket.bytesWritten === 0)) {
      socket.destroy();
      return;
    }
    const [status, reason, description] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            `request line and headers exceed ${MAX_HEADER_BYTES} bytes`,
          ]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request was not received in time']
          : [400, 'Bad Request', 'malformed HTTP request'];
    logger.info(
      { code: error.code, status, remote: socket.remoteAddress },
      'request refused by the HTTP parser',
    );
    const body = JSON.stringify({ error: 'invalid_request', error_description: description });
    const headers = Object.entries({
      ...SECURITY_HEADERS,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      Connection: 'close',
    })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.end(`HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n${body}`);
  });
  return server;
}

/** How long in-flight requests get to finish once the listener is closed. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface Listening {
  server: Server;
  url: string;
  /**
   * Waits while connections are still open, up to `drainMs`: meanwhile the service keeps
   * answering (with Connection: close), so keep-alive clients and load balancers let go before
   * the listener closes; closing it at once would reset sockets a client is just reusing.
   */
  drain(): Promise<void>;
  /** Connections open now (for the shutdown log). */
  connections(): number;
  /** Stops accepting and lets in-flight requests finish; stragglers are cut off after a grace period. */
  close(): Promise<void>;
}

export async function listen(
  listener: RequestListener,
  logger: Logger,
  options: { port: number; host: string | undefined; drainMs: number },
): Promise<Listening> {
  const server = createHttpServer(listener, logger).listen(options.port, options.host);
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host ?? 'localhost'}:${port}`,
    connections: () => connections.size,
    async drain() {
      const until = Date.now() + options.drainMs;
      while (connections.size > 0 && Date.now() < until) await new Promise((done) => setTimeout(done, 25));
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
      });
    },
  };
}
