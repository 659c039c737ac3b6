import { generateKeyPairSync, randomBytes, randomUUID, sign as signBytes } from 'node:crypto';
import { derToJose } from 'ecdsa-sig-formatter';
import { generateKeyPair, SignJWT } from 'jose';

export interface SignResult {
  signsPerSecond: number;
  signs: number;
  seconds: number;
  /** For a figure taken around a run: the loops before and after it, of which this is the sum. */
  before?: SignResult;
  after?: SignResult;
}

/**
 * The ceiling: how many ES256 access tokens `jose` signs per second on one thread, one after the
 * other, with a payload shaped like Tollgate's (RFC 9068 header and claims).
 */
export async function measureSigning(seconds: number, warmupSeconds = 1): Promise<SignResult> {
  const { privateKey } = await generateKeyPair('ES256');
  const sign = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: 'bench-client', scope: 'read', jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-key-0001' })
      .setIssuer('http://127.0.0.1:3000')
      .setSubject('bench-client')
      .setAudience('https://bench.tollgate.test')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
  };
  const loop = async (ms: number) => {
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    while (performance.now() < end) {
      await sign();
      count++;
    }
    return { count, elapsed: (performance.now() - start) / 1000 };
  };
  await loop(warmupSeconds * 1000);
  const { count, elapsed } = await loop(seconds * 1000);
  return { signsPerSecond: count / elapsed, signs: count, seconds: elapsed };
}

/**
 * For comparison: ES256 signatures per second the way Tollgate's keys make them for
 * oidc-provider (src/oidc/signing-keys.ts: node:crypto over the signing input, DER to r||s),
 * over an input of an access token's size, with no JWT built around them.
 */
export function measureNodeSigning(seconds: number, warmupSeconds = 1): SignResult {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const input = Buffer.from(randomBytes(330).toString('base64url'));
  const loop = (ms: number) => {
    let count = 0;
    const start = performance.now();
    const end = start + ms;
    while (performance.now() < end) {
      derToJose(signBytes('sha256', input, privateKey), 'ES256');
      count++;
    }
    return { count, elapsed: (performance.now() - start) / 1000 };
  };
  loop(warmupSeconds * 1000);
  const { count, elapsed } = loop(seconds * 1000);
  return { signsPerSecond: count / elapsed, signs: count, seconds: elapsed };
}
