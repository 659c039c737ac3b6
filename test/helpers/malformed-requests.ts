import fc from 'fast-check';
import { percentEncode, type WireRequest, wtf8 } from './wire-http.ts';

/**
 * Generators of malformed HTTP requests (issue 9): each endpoint family starts from a valid
 * request and breaks some of its parameters, headers, path segments and body, with values
 * attackers use against parsers and databases. A generated request is plain data, so a seed
 * reproduces it exactly.
 */

/** Values that break parsers, databases and path handling, decoded or already percent-encoded. */
export const NASTY = [
  '\0',
  'a\0b',
  '\u0001',
  '\u001f',
  '\x7f',
  '\u0085',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  '\uffff',
  '\ufeff',
  '\u202e',
  '\u2028',
  '😀',
  'é',
  '..',
  '../../etc/passwd',
  '.',
  '/',
  '//',
  '\\',
  '%',
  '%zz',
  '%00',
  '%ff',
  '%c0%80',
  '%ed%a0%80',
  '%2e%2e',
  '%2f',
  '%25',
  '+',
  '',
  ' ',
  '\t',
  '\r\n',
  '"',
  "'",
  '<script>',
  '{}',
  '[]',
  'null',
  'true',
  '-1',
  '0',
  '1e400',
  '-0',
  '99999999999999999999999999',
  'NaN',
  'Infinity',
  '__proto__',
  'constructor',
  'toString',
  'a=b&c=d',
  '#',
  '?',
  ';',
  '*',
];

/** Raw JSON tokens no JavaScript value stringifies to. */
const RAW_JSON = ['1e400', '-1e400', '123456789012345678901234567890', '-0', '0.0000000000000000001e-400'];

export const nastyValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...NASTY), { maxLength: 4 }).map((a) => a.join('')) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', '\0', '%', 'é', '\ud800'), fc.integer({ min: 256, max: 20_000 }))
      .map(([c, n]) => c.repeat(n)),
  },
);

type Op = 'keep' | 'nasty' | 'drop' | 'repeat';
const op = fc.constantFrom<Op>('keep', 'keep', 'keep', 'nasty', 'nasty', 'drop', 'repeat');

/** A valid parameter list with some values replaced, dropped or repeated, and junk added. */
export function mutatedParams(base: Record<string, string>): fc.Arbitrary<[string, string][]> {
  const keys = Object.keys(base);
  return fc
    .tuple(
      fc.array(fc.tuple(op, nastyValue), { minLength: keys.length, maxLength: keys.length }),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...keys, 'x'), nastyValue), nastyValue), { maxLength: 2 }),
    )
    .map(([ops, extra]) => {
      const pairs: [string, string][] = [];
      keys.forEach((key, i) => {
        const [what, value] = ops[i] ?? ['keep', ''];
        const valid = base[key] ?? '';
        if (what === 'keep') pairs.push([key, valid]);
        else if (what === 'nasty') pairs.push([key, value]);
        else if (what === 'repeat') pairs.push([key, valid], [key, value]);
      });
      return [...pairs, ...extra];
    });
}

/** `k=v&…` as bytes: percent-encoded (mostly), or raw UTF-8 bytes as a careless client sends. */
export function encodeParams(pairs: [string, string][], raw: boolean): string {
  const encode = raw
    ? (s: string) =>
        wtf8(s)
          .toString('latin1')
          .replace(/[\s&=#]/g, '_')
    : percentEncode;
  return pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
}

/** A path segment: a nasty value percent-encoded, an encoded attack token, or raw bytes. */
export const nastySegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: nastyValue.map(percentEncode) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('%00', '%ff', '%c0%80', '%ed%a0%80', '..', '%2e%2e', '.', 'a%2fb', '%'),
  },
  {
    weight: 1,
    arbitrary: nastyValue.map((v) =>
      wtf8(v)
        .toString('latin1')
        .replace(/[\s?#]/g, '_'),
    ),
  },
);

const EXTRA_HEADERS = [
  'authorization',
  'content-type',
  'cookie',
  'accept',
  'accept-language',
  'origin',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'dpop',
  'x-http-method-override',
  'range',
];

/** Header values as bytes; CR and LF are left out, since they would change the request framing. */
const headerValue = nastyValue.map((v) =>
  wtf8(v)
    .toString('latin1')
    .replace(/[\r\n]/g, ''),
);

/** The valid headers with some values broken, dropped or sent twice, and junk headers added. */
export function mutatedHeaders(base: [string, string][]): fc.Arbitrary<[string, string][]> {
  return fc
    .tuple(
      fc.array(fc.tuple(op, headerValue), { minLength: base.length, maxLength: base.length }),
      fc.array(fc.tuple(fc.constantFrom(...EXTRA_HEADERS), headerValue), { maxLength: 2 }),
    )
    .map(([ops, extra]) => {
      const headers: [string, string][] = [];
      base.forEach(([name, valid], i) => {
        const [what, value] = ops[i] ?? ['keep', ''];
        if (what === 'keep') headers.push([name, valid]);
        else if (what === 'nasty') headers.push([name, value]);
        else if (what === 'repeat') headers.push([name, valid], [name, value]);
      });
      return [...headers, ...extra];
    });
}

const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'multipart/form-data',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=nope',
  'application/x-www-form-urlencoded; charset=utf-7',
  '*/*',
  'application/',
  ';;;',
];

/** A body and its Content-Type: usually the right kind with broken fields, sometimes anything. */
export interface Body {
  contentType: string | undefined;
  bytes: Buffer;
}

function withContentType(kind: string, bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Body> {
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant<string | undefined>(kind) },
    { weight: 2, arbitrary: fc.constantFrom<string | undefined>(...CONTENT_TYPES, undefined) },
  );
  return fc.record({ contentType, bytes });
}

const garbage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.constantFrom(
    Buffer.from([0xff, 0xfe, 0x00]),
    Buffer.from('{"a":"\xff\xc0\x80\xed\xa0\x80"}', 'latin1'),
    Buffer.from('grant_type=%ff%fe&token=\xff\x00', 'latin1'),
    Buffer.alloc(0),
  ),
);

/** A form body from valid fields. */
export function formBody(base: Record<string, string>): fc.Arbitrary<Body> {
  const bytes = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(mutatedParams(base), fc.boolean())
        .map(([p, raw]) => Buffer.from(encodeParams(p, raw && p.length % 3 === 0), 'latin1')),
    },
    { weight: 1, arbitrary: garbage },
  );
  return withContentType('application/x-www-form-urlencoded', bytes);
}

/** A JSON body from a valid template: fields replaced by nasty or raw values, deep nesting, garbage. */
export function jsonBody(template: Record<string, unknown>): fc.Arbitrary<Body> {
  const marker = (token: string) => `\u0001RAW:${token}`;
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: nastyValue },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_JSON).map(marker) },
    { weight: 1, arbitrary: fc.dictionary(nastyValue, nastyValue, { maxKeys: 3 }) },
  );
  const mutate = (target: unknown, path: string[], replacement: unknown): unknown => {
    if (path.length === 0 || target === null || typeof target !== 'object') return replacement;
    const [head = '', ...rest] = path;
    const copy: Record<string, unknown> = Array.isArray(target) ? ([...target] as never) : { ...target };
    copy[head] = mutate(copy[head], rest, replacement);
    return copy;
  };
  const paths = leafPaths(template);
  const edited = fc
    .array(fc.tuple(fc.constantFrom(...paths), value), { minLength: 1, maxLength: 3 })
    .map((edits) => {
      let body: unknown = template;
      for (const [path, replacement] of edits) body = mutate(body, path, replacement);
      let text = JSON.stringify(body);
      for (const token of RAW_JSON) text = text.replaceAll(JSON.stringify(marker(token)), token);
      return Buffer.from(text, 'utf8');
    });
  const deep = fc
    .tuple(fc.integer({ min: 9, max: 20_000 }), fc.boolean())
    .map(([n, array]) =>
      Buffer.from(array ? '['.repeat(n) + ']'.repeat(n) : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    );
  const duplicate = fc
    .tuple(fc.constantFrom(...Object.keys(template)), nastyValue)
    .map(([key, v]) =>
      Buffer.from(`{${JSON.stringify(key)}:${JSON.stringify(v)},${JSON.stringify(template).slice(1)}`),
    );
  const truncated = fc.nat().map((n) => {
    const text = JSON.stringify(template);
    return Buffer.from(text.slice(0, n % text.length));
  });
  const bytes = fc.oneof(
    { weight: 8, arbitrary: edited },
    { weight: 1, arbitrary: fc.constant(Buffer.from(JSON.stringify(template))) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: duplicate },
    { weight: 1, arbitrary: truncated },
    { weight: 1, arbitrary: garbage },
  );
  return withContentType('application/json', bytes);
}

function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]))].filter((p) => p.length > 0);
}

/** One generated request, tagged with the endpoint family it attacks. */
export interface FuzzRequest extends WireRequest {
  family: string;
}

/** Puts a request together; the method is sometimes replaced by another one. */
export function request(
  family: string,
  methods: string[],
  path: fc.Arbitrary<string>,
  query: fc.Arbitrary<string>,
  headers: fc.Arbitrary<[string, string][]>,
  body?: fc.Arbitrary<Body>,
): fc.Arbitrary<FuzzRequest> {
  const method = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...methods) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO'),
    },
  );
  return fc
    .record({ method, path, query, headers, body: body ?? fc.constant(undefined) })
    .map(({ method, path, query, headers, body }) => ({
      family,
      method,
      target: query === '' ? path : `${path}?${query}`,
      headers: body?.contentType === undefined ? headers : [...headers, ['content-type', body.contentType]],
      body: body?.bytes,
    }));
}

/** A query string from valid parameters, percent-encoded mostly and raw sometimes. */
export function query(base: Record<string, string>): fc.Arbitrary<string> {
  return fc.tuple(mutatedParams(base), fc.nat(9)).map(([pairs, roll]) => encodeParams(pairs, roll === 0));
}
