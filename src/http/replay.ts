import { type IncomingMessage, IncomingMessage as Message } from 'node:http';

/**
 * A request body the fast path read but leaves to Koa: thrown by a fast-path step, caught by
 * fast-path.ts, which hands Koa a copy of the request that reads as `body` (replayRequest).
 */
export class LeaveToKoa {
  readonly body: Buffer;

  constructor(body: Buffer) {
    this.body = body;
  }
}

/** The whole body of `req`, which must not be longer than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        req.destroy();
        reject(new Error('request body over its limit'));
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks, received)));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('request aborted')));
  });
}

/**
 * A copy of `req` (same socket, method, URL and headers) whose body reads as `body`, for a
 * listener that reads the body itself: node:http cannot rewind a request already read.
 */
export function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new Message(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  copy.complete = true;
  if (body.length > 0) copy.push(body);
  copy.push(null);
  return copy;
}
