import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';

export interface SignResult {
  signsPerSecond: number;
  signs: number;
  seconds: number;
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
