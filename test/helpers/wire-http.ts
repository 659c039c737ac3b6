import { connect } from 'node:net';

/** A request exactly as it goes on the wire: the target and header values are bytes (latin1). */
export interface WireRequest {
  method: string;
  /** Request target as bytes, e.g. `/auth?client_id=%00` or with raw bytes ≥ 0x80. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
}

export interface WireResponse {
  /** 0 when the server closed the connection without an answer (or did not answer in time). */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One HTTP/1.1 request over a plain socket, byte for byte: fetch and node:http refuse or
 * normalize what attackers send (NUL in headers, raw bytes ≥ 0x80 in the target, `..`), and
 * this must reach the server as is. Content-Length is always right, so no request hangs.
 */
export function wireRequest(base: string, request: WireRequest, timeoutMs = 30_000): Promise<WireResponse> {
  const { hostname, port } = new URL(base);
  const body = request.body ?? Buffer.alloc(0);
  let head = `${request.method} ${request.target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`;
  for (const [name, value] of request.headers) head += `${name}: ${value}\r\n`;
  if (request.body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const done = () => resolve(parseResponse(Buffer.concat(chunks)));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', done);
    // No half-close: a server may drop a request whose client already ended its side.
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]));
  });
}

function parseResponse(raw: Buffer): WireResponse {
  const end = raw.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 16).toString('latin1'));
  if (end < 0 || !status) return { status: 0, headers: {}, body: raw };
  const headers: Record<string, string> = {};
  for (const line of raw.subarray(0, end).toString('latin1').split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(status[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Percent-encodes every byte of a string's UTF-8 form except unreserved characters; an unpaired
 * surrogate becomes its 3-byte generalized UTF-8 form (`%ED%A0%80`), which is what a client
 * sends when it does not check.
 */
export function percentEncode(value: string): string {
  let out = '';
  for (const byte of wtf8(value)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** UTF-8 bytes, with unpaired surrogates encoded as if they were code points (WTF-8). */
export function wtf8(value: string): Buffer {
  const bytes: number[] = [];
  for (const ch of value) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      bytes.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 0x3f),
        0x80 | ((cp >> 6) & 0x3f),
        0x80 | (cp & 0x3f),
      );
  }
  return Buffer.from(bytes);
}
