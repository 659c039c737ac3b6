import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { AccessTokenVerifier } from '../../src/oidc/access-token-verifier.ts';

const ISSUER = 'https://tollgate.example.test';

/** A verifier over one ES256 key, with an empty denylist: the cache is what is under test. */
async function verifierAndToken(aud: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  // Only what the verifier reads of each: the key to check signatures with and the ring's
  // changes, and the denylist.
  const ring = Object.assign(new EventEmitter(), { verificationKey: publicKey });
  const verifier = new AccessTokenVerifier({
    ring: ring as never,
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
  return { verifier, token, ring };
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

  it('forgets what it verified when the key ring changes: the tokens of a retired key fail at once', async () => {
    const { verifier, token, ring } = await verifierAndToken('https://a.example.test');
    assert.equal((await verifier.verifyCached(token)).valid, true);
    const { publicKey: another } = await generateKeyPair('ES256');
    ring.verificationKey = another;
    // Without the change, the cache still answers for the old key.
    assert.equal((await verifier.verifyCached(token)).valid, true);
    ring.emit('change');
    const after = await verifier.verifyCached(token);
    assert.deepEqual([after.valid, after.valid ? undefined : after.detail], [false, 'signature']);
  });
});
