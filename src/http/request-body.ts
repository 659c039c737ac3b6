import { type IncomingMessage, IncomingMessage as Message } from 'node:http';

// Reading request bodies on the node:http fast path (decide-chain.ts, fast-path.ts), and handing
// one already read to Koa.

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

/**
 * The body, when all of it came with the headers and waits in the stream's buffer: a small
 * request usually arrives in one read, and the parser has finished the message before the
 * chain's first wait ends. Taken at once, without a listener per event. Otherwise undefined.
 */
export function arrivedBody(req: IncomingMessage, limit: number): Buffer | undefined {
  if (!req.complete || req.readableFlowing || req.readableLength > limit) return undefined;
  const buffered = req.read() as Buffer | null;
  return buffered ?? Buffer.alloc(0);
}

/**
 * The body, read with stream events: an async iterator over the request (`for await`) cost more
 * than the rest of reading and parsing a small body (bench/decide.ts --profile). Past `limit`
 * it stops reading and fails with `tooLarge()`; the answer then closes the connection (the
 * request is incomplete).
 */
export function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => done(undefined);
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error('the request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
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
