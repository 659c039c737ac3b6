import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { SigningAlg, SigningKey } from '../../src/keys/index.ts';
import { providerSigningKeys } from '../../src/oidc/signing-keys.ts';

// oidc-provider gets the ring's keys as external signing keys: it builds each JWS and asks the
// key only for the signature over `header.payload`. These tests hold that signature to what a
// verifier (jose, as every resource server here uses) accepts for the key's alg.

function ringKey(alg: SigningAlg, kid: string): SigningKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, privateKey, publicKey };
}

/** A compact JWS as oidc-provider assembles one around an external key's signature. */
async function jws(
  key: ReturnType<typeof providerSigningKeys>[number],
  payload: Buffer,
): Promise<{ token: string; signature: Buffer }> {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString(
    'base64url',
  );
  const input = `${header}.${payload.toString('base64url')}`;
  const signature = Buffer.from(await key.sign(Buffer.from(input)));
  return { token: `${input}.${signature.toString('base64url')}`, signature };
}

describe('the ring keys oidc-provider signs with', () => {
  it('present each key under its kid and alg, with the public members of its JWK, and give out only the public half as its key object', () => {
    const keys = [ringKey('ES256', 'es-kid'), ringKey('RS256', 'rs-kid')];
    const external = providerSigningKeys(keys);
    assert.deepEqual(
      external.map((k) => [k.kid, k.alg, k.use]),
      [
        ['es-kid', 'ES256', 'sig'],
        ['rs-kid', 'RS256', 'sig'],
      ],
      'the ring order (active keys first) is kept',
    );
    const [es, rs] = external as [(typeof external)[number], (typeof external)[number]];
    const esJwk = keys[0]?.publicKey.export({ format: 'jwk' });
    assert.deepEqual([es.kty, es.crv, es.x, es.y], [esJwk?.kty, esJwk?.crv, esJwk?.x, esJwk?.y]);
    const rsJwk = keys[1]?.publicKey.export({ format: 'jwk' });
    assert.deepEqual([rs.kty, rs.n, rs.e], [rsJwk?.kty, rsJwk?.n, rsJwk?.e]);
    for (const key of external) {
      assert.equal(
        (key.keyObject() as { type: string }).type,
        'public',
        'the provider gets the public half only',
      );
    }
  });

  it('make ES256 signatures of 64 bytes (r||s) that verify, including those whose r or s is short', async () => {
    const key = ringKey('ES256', 'es-kid');
    const [external] = providerSigningKeys([key]);
    assert.ok(external);
    // About 1 in 128 signatures has an r or s with a leading zero byte, which DER writes
    // shorter: 2,000 signatures meet that case with near certainty, and it must still verify.
    let short = 0;
    for (let i = 0; i < 2000; i++) {
      const { token, signature } = await jws(external, randomBytes(48));
      assert.equal(signature.length, 64, 'ES256 in a JWS is r||s, not DER');
      if (signature[0] === 0 || signature[32] === 0) short++;
      const { protectedHeader } = await compactVerify(token, key.publicKey, { algorithms: ['ES256'] });
      assert.equal(protectedHeader.kid, 'es-kid');
    }
    assert.ok(short > 0, 'no signature with a short r or s was made');
  });

  it('make RS256 signatures that verify as RS256 and not as PS256, answering with a promise', async () => {
    const key = ringKey('RS256', 'rs-kid');
    const [external] = providerSigningKeys([key]);
    assert.ok(external);
    // An RSA signature takes long enough to hold up other requests: it is made in the thread
    // pool, and the call returns a promise of it at once.
    const pending = external.sign(Buffer.from('a.b'));
    assert.ok(pending instanceof Promise, 'RS256 is signed in the request thread');
    await pending;
    for (let i = 0; i < 20; i++) {
      const { token, signature } = await jws(external, randomBytes(48));
      assert.equal(signature.length, 256);
      assert.equal(decodeProtectedHeader(token).alg, 'RS256');
      await compactVerify(token, key.publicKey, { algorithms: ['RS256'] });
      // The same bytes are not a valid RSASSA-PSS signature: the padding is PKCS #1 v1.5.
      const pss = token.replace(
        /^[^.]+/,
        Buffer.from(JSON.stringify({ alg: 'PS256' })).toString('base64url'),
      );
      await assert.rejects(compactVerify(pss, key.publicKey, { algorithms: ['PS256'] }));
    }
  });

  it('make signatures another key of the same alg does not verify', async () => {
    const [external] = providerSigningKeys([ringKey('ES256', 'a')]);
    assert.ok(external);
    const { token } = await jws(external, randomBytes(48));
    await assert.rejects(compactVerify(token, ringKey('ES256', 'b').publicKey));
  });
});
