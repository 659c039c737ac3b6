import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { AccessTokenVerifier } from '../../src/oidc/access-token-verifier.ts';

const ISSUER = 'https://tollgate.example.test';

/** A verifier over one ES256 key, with an empty denylist: the cache is what is under test. */
async function verifierAndToken(aud: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const verifier = new AccessTokenVerifier({
    // Only what verify() reads of each: the key to check signatures with, and the denylist.
    ring: { verificationKey: publicKey } as never,
    issuer: ISSUER,
    revocations: { has: () => false } as never,
  });
  const token = await new SignJWT({ client_id: 'svc', scope: 'read' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(aud)
    .setSubject('u-1')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
  return { verifier, token };
}

describe('AccessTokenVerifier.verifyCached', () => {
  it('does not answer the one audience "a,b" from the answer cached for the list [a, b]', async () => {
    const { verifier, token } = await verifierAndToken('https://a.example.test');
    const list = ['https://a.example.test', 'https://b.example.test'];
    assert.equal((await verifier.verifyCached(token, { audience: list })).valid, true);
    // A different audience that stringifies the same must not reuse the list's cached answer.
    const joined = await verifier.verifyCached(token, { audience: list.join(',') });
    assert.deepEqual([joined.valid, joined.valid ? undefined : joined.detail], [false, 'audience']);
  });

  it('answers a token seen before at once, not as a promise, and still refuses it for another audience', async () => {
    const { verifier, token } = await verifierAndToken('https://a.example.test');
    const first = verifier.verifyCached(token, { audience: 'https://a.example.test' });
    assert.ok(first instanceof Promise);
    assert.equal((await first).valid, true);
    const again = verifier.verifyCached(token, { audience: 'https://a.example.test' });
    assert.ok(!(again instanceof Promise));
    assert.equal(again.valid, true);
    const other = await verifier.verifyCached(token, { audience: 'https://b.example.test' });
    assert.equal(other.valid, false);
  });
});
