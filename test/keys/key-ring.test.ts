import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { compactDecrypt, decodeProtectedHeader, type JWK, jwtVerify, SignJWT } from 'jose';
import { type DatabaseHandle, openDatabase } from '../../src/db/index.ts';
import { MAX_JWT_LIFETIME_SECONDS, SIGNING_ALGS, SigningKeyRing } from '../../src/keys/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

const PUBLISH_SECONDS = 600;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

/** A clock the test moves by hand, shared by every ring of a test. */
class TestClock {
  ms = Date.now();
  readonly now = () => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

describe('SigningKeyRing', () => {
  let database: TestDatabase;
  let clock: TestClock;
  let kek: Buffer;
  const cleanups: Array<() => Promise<void> | void> = [];

  function ring(handle: DatabaseHandle = database.handle, key: Buffer = kek): SigningKeyRing {
    // refreshSeconds is unused: the tests call refresh() themselves instead of waiting.
    const created = new SigningKeyRing(handle, key, {
      publishSeconds: PUBLISH_SECONDS,
      refreshSeconds: 1,
      now: clock.now,
    });
    cleanups.push(() => created.stop());
    return created;
  }

  async function rows() {
    return database.handle.db.selectFrom('signing_keys').selectAll().orderBy('activates_at').execute();
  }

  beforeEach(async () => {
    database = await openTestDatabase();
    clock = new TestClock();
    kek = randomBytes(32);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await database.drop();
  });

  it('creates one active RS256 and one active ES256 key on an empty database, and no more on a second init', async () => {
    const first = ring();
    await first.init();
    assert.deepEqual((await rows()).map((r) => r.alg).sort(), ['ES256', 'RS256']);
    assert.deepEqual(
      first
        .list()
        .map((k) => `${k.alg}:${k.state}`)
        .sort(),
      ['ES256:active', 'RS256:active'],
    );
    const jwks = first.publicJwks();
    assert.equal(jwks.find((k) => k.alg === 'RS256')?.kty, 'RSA');
    assert.equal(jwks.find((k) => k.alg === 'ES256')?.crv, 'P-256');

    await first.init();
    await ring().init();
    assert.equal((await rows()).length, 2);
  });

  it('publishes public keys only, and stores private keys as dir/A256GCM JWEs that do not contain d', async () => {
    const keyRing = ring();
    await keyRing.init();
    for (const jwk of keyRing.publicJwks()) {
      for (const member of PRIVATE_MEMBERS)
        assert.equal(jwk[member as keyof JWK], undefined, `JWKS leaks ${member}`);
    }
    for (const row of await rows()) {
      const parts = row.private_jwk_encrypted.split('.');
      assert.equal(parts.length, 5, 'a compact JWE has five parts');
      assert.equal(parts[1], '', 'dir has no encrypted key');
      const header = decodeProtectedHeader(row.private_jwk_encrypted);
      assert.equal(header.alg, 'dir');
      assert.equal(header.enc, 'A256GCM');

      const { plaintext } = await compactDecrypt(row.private_jwk_encrypted, kek);
      const privateJwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
      assert.ok(privateJwk.d && privateJwk.d.length > 20, 'the sealed JWK is a private key');
      assert.ok(
        !row.private_jwk_encrypted.includes(privateJwk.d),
        'the private d appears in the stored text',
      );
      assert.ok(!JSON.stringify(row.public_jwk).includes(privateJwk.d), 'the public JWK carries d');
      const signing = keyRing.signingKeys().find((k) => k.kid === row.kid);
      assert.equal(
        signing?.privateKey.export({ format: 'jwk' }).d,
        privateJwk.d,
        'the ring signs with the stored key',
      );
    }
  });

  it('hands out the same key objects across a refresh and a rotation: a private key is imported once', async () => {
    const keyRing = ring();
    await keyRing.init();
    const first = new Map(keyRing.signingKeys().map((k) => [k.kid, k]));
    await keyRing.refresh();
    await keyRing.rotate();
    const again = keyRing.signingKeys();
    assert.equal(again.length, 4);
    for (const [kid, key] of first) {
      const later = again.find((k) => k.kid === kid);
      assert.equal(later?.privateKey, key.privateKey, `${kid} was imported again`);
      assert.equal(later?.publicKey, key.publicKey);
      assert.equal(key.privateKey.type, 'private');
      assert.equal(key.publicKey.type, 'public');
    }
  });

  it('refuses to open the keys with a different key-encryption key, saying which variable is wrong', async () => {
    await ring().init();
    await assert.rejects(ring(database.handle, randomBytes(32)).init(), (error: Error) => {
      assert.match(error.message, /cannot decrypt a signing key: KEY_ENCRYPTION_KEY differs/);
      return true;
    });
  });

  it('publishes rotated keys as pending and keeps signing with the current key until they activate', async () => {
    const keyRing = ring();
    await keyRing.init();
    const before = Object.fromEntries(SIGNING_ALGS.map((alg) => [alg, keyRing.activeKid(alg)]));

    const rotated = await keyRing.rotate();

    assert.deepEqual(rotated.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const key of rotated) {
      assert.equal(key.state, 'pending');
      assert.equal(key.activatesAt.getTime(), clock.ms + PUBLISH_SECONDS * 1000);
      assert.equal(key.retiresAt, undefined);
    }
    const published = keyRing.publicJwks().map((k) => k.kid);
    for (const key of rotated) assert.ok(published.includes(key.kid), `${key.kid} is not in JWKS`);
    assert.equal(published.length, 4);
    for (const alg of SIGNING_ALGS) {
      assert.equal(keyRing.activeKid(alg), before[alg]);
      // oidc-provider signs with the first key of an alg: the active one must come first.
      assert.equal(keyRing.signingKeys().find((k) => k.alg === alg)?.kid, before[alg]);
    }

    clock.advance(PUBLISH_SECONDS - 1);
    await keyRing.refresh();
    for (const alg of SIGNING_ALGS) assert.equal(keyRing.activeKid(alg), before[alg], 'activated early');
  });

  it('activates the new key on time and keeps the retired one in JWKS until every token it signed expired', async () => {
    const keyRing = ring();
    await keyRing.init();
    const oldKid = keyRing.activeKid('ES256');
    const oldKey = keyRing.signingKeys().find((k) => k.kid === oldKid)?.privateKey;
    assert.ok(oldKey);
    const oldToken = await new SignJWT({ sub: 'svc' })
      .setProtectedHeader({ alg: 'ES256', kid: oldKid, typ: 'at+jwt' })
      .setIssuedAt(Math.floor(clock.ms / 1000))
      .sign(oldKey);
    const rotated = await keyRing.rotate();
    const newKid = rotated.find((k) => k.alg === 'ES256')?.kid;
    let changes = 0;
    keyRing.on('change', () => changes++);

    clock.advance(PUBLISH_SECONDS);
    await keyRing.refresh();

    assert.equal(changes, 1, 'activation is a change of the key set');
    assert.equal(keyRing.activeKid('ES256'), newKid);
    assert.equal(keyRing.signingKeys().find((k) => k.alg === 'ES256')?.kid, newKid);
    const activation = clock.ms;
    const retired = keyRing.list().find((k) => k.kid === oldKid);
    assert.equal(retired?.state, 'retired');
    assert.equal(retired?.retiresAt?.getTime(), activation + MAX_JWT_LIFETIME_SECONDS * 1000);
    assert.ok(keyRing.publicJwks().some((k) => k.kid === oldKid));

    clock.advance(MAX_JWT_LIFETIME_SECONDS - 1);
    await keyRing.refresh();
    assert.ok(
      keyRing.publicJwks().some((k) => k.kid === oldKid),
      'retired key left JWKS too early',
    );
    await jwtVerify(oldToken, keyRing.verificationKey, { currentDate: clock.now() });

    clock.advance(1);
    await keyRing.refresh();
    assert.ok(!keyRing.publicJwks().some((k) => k.kid === oldKid), 'retired key still in JWKS');
    assert.ok(!keyRing.list().some((k) => k.kid === oldKid));
    assert.ok(!(await rows()).some((r) => r.kid === oldKid), 'retired key row still stored');
    await assert.rejects(jwtVerify(oldToken, keyRing.verificationKey, { currentDate: clock.now() }), {
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    assert.deepEqual(
      keyRing
        .list()
        .map((k) => `${k.alg}:${k.state}`)
        .sort(),
      ['ES256:active', 'RS256:active'],
    );
  });

  it('times a key retired by two rotations from the activation of its own successor', async () => {
    const keyRing = ring();
    await keyRing.init();
    const first = keyRing.activeKid('RS256');
    await keyRing.rotate();
    clock.advance(PUBLISH_SECONDS);
    await keyRing.refresh();
    const secondActivation = clock.ms;
    clock.advance(60);
    await keyRing.rotate();
    clock.advance(PUBLISH_SECONDS);
    await keyRing.refresh();

    const firstKey = keyRing.list().find((k) => k.kid === first);
    assert.equal(firstKey?.state, 'retired');
    assert.equal(firstKey?.retiresAt?.getTime(), secondActivation + MAX_JWT_LIFETIME_SECONDS * 1000);
    assert.equal(keyRing.list().filter((k) => k.alg === 'RS256' && k.state === 'active').length, 1);
  });

  it('agrees with another ring on the same database handle about active and published keys', async () => {
    const a = ring();
    const b = ring();
    await Promise.all([a.init(), b.init()]);
    assert.equal((await rows()).length, 2, 'rings starting together created keys twice');
    await assertAgree(a, b);

    const rotated = await a.rotate();
    await b.refresh();
    await assertAgree(a, b);
    assert.equal(b.list().filter((k) => k.state === 'pending').length, 2);

    clock.advance(PUBLISH_SECONDS);
    await Promise.all([a.refresh(), b.refresh()]);
    await assertAgree(a, b);
    for (const key of rotated) assert.equal(b.activeKid(key.alg), key.kid);
  });

  it('agrees with a ring on a separate connection pool to the same PostgreSQL database', {
    // PGlite is one process, one handle.
    skip: skipUnless('postgres'),
  }, async () => {
    assert.ok(database.url);
    const otherHandle = await openDatabase({ kind: 'postgres', url: database.url });
    cleanups.push(() => otherHandle.close());
    const a = ring();
    const b = ring(otherHandle);
    await Promise.all([a.init(), b.init()]);
    assert.equal((await rows()).length, 2, 'instances starting together created keys twice');
    await assertAgree(a, b);

    const rotated = await b.rotate();
    await a.refresh();
    await assertAgree(a, b);
    clock.advance(PUBLISH_SECONDS);
    await Promise.all([a.refresh(), b.refresh()]);
    await assertAgree(a, b);
    for (const key of rotated) assert.equal(a.activeKid(key.alg), key.kid);
  });
});

async function assertAgree(a: SigningKeyRing, b: SigningKeyRing): Promise<void> {
  for (const alg of SIGNING_ALGS)
    assert.equal(a.activeKid(alg), b.activeKid(alg), `${alg} active kids differ`);
  const kids = (ring: SigningKeyRing) =>
    ring
      .publicJwks()
      .map((k) => k.kid)
      .sort();
  assert.deepEqual(kids(a), kids(b));
  assert.deepEqual(a.list(), b.list());
}
