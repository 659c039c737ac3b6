import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

const AUDIENCE = 'https://api.example.test';

interface ListedKey {
  kid: string;
  alg: string;
  state: 'pending' | 'active' | 'retired';
  activatesAt: string;
  retiresAt?: string;
}

describe('signing key rotation over HTTP', () => {
  let tg: TestInstance;
  let client: { client_id: string; client_secret: string };
  let jwksUri: URL;

  before(async () => {
    // Pending for 5 s: long enough that the pending-phase checks finish before activation even on
    // a loaded machine (the next test asserts they did).
    tg = await startTestInstance({ KEY_PUBLISH_SECONDS: '5', KEY_REFRESH_SECONDS: '1' });
    const api = await tg.admin$('POST', '/apis', {
      audience: AUDIENCE,
      scopes: ['read'],
      alg: 'ES256',
      ttl: 300,
    });
    assert.equal(api.status, 201, await api.clone().text());
    const created = await tg.admin$('POST', '/clients', {
      name: 'svc',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: AUDIENCE,
    });
    assert.equal(created.status, 201, await created.clone().text());
    client = (await created.json()) as typeof client;
    const discovery = (await (await fetch(`${tg.url}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    jwksUri = new URL(discovery.jwks_uri);
  });
  after(() => tg.close());

  async function token(): Promise<string> {
    const response = await requestToken(tg.url, client, { scope: 'read' });
    const body = (await response.json()) as { access_token?: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.ok(body.access_token);
    return body.access_token;
  }

  async function publishedKids(): Promise<string[]> {
    const response = await fetch(jwksUri);
    assert.equal(response.status, 200);
    const jwks = (await response.json()) as { keys: Array<{ kid: string; d?: string }> };
    assert.ok(
      jwks.keys.every((k) => k.d === undefined),
      'JWKS publishes a private key',
    );
    return jwks.keys.map((k) => k.kid);
  }

  /** Verifies like a resource server would, with a fresh JWKS fetch (no cache from earlier steps). */
  async function verifyAsResourceServer(jwt: string) {
    const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(jwksUri), {
      issuer: tg.issuer,
      audience: AUDIENCE,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    assert.equal(payload.client_id, client.client_id);
    return protectedHeader;
  }

  async function listedKeys(): Promise<ListedKey[]> {
    const response = await tg.admin$('GET', '/keys');
    assert.equal(response.status, 200);
    return ((await response.json()) as { keys: ListedKey[] }).keys;
  }

  let oldKid: string;
  let oldToken: string;
  let rotated: ListedKey[];

  it('signs tokens for an ES256 API with the active ES256 key', async () => {
    oldToken = await token();
    const header = await verifyAsResourceServer(oldToken);
    assert.equal(header.alg, 'ES256');
    oldKid = header.kid ?? '';
    const active = (await listedKeys()).find((k) => k.alg === 'ES256' && k.state === 'active');
    assert.equal(active?.kid, oldKid);
  });

  it('publishes the rotated key at once but keeps signing with the old key while it is pending', async () => {
    const response = await tg.admin$('POST', '/keys/rotate');
    assert.equal(response.status, 201);
    rotated = ((await response.json()) as { keys: ListedKey[] }).keys;
    assert.deepEqual(rotated.map((k) => `${k.alg}:${k.state}`).sort(), ['ES256:pending', 'RS256:pending']);
    const newKid = rotated.find((k) => k.alg === 'ES256')?.kid;
    assert.ok(newKid && newKid !== oldKid);

    const published = await publishedKids();
    assert.ok(published.includes(newKid), 'the pending key is not in JWKS');
    assert.ok(published.includes(oldKid), 'the active key left JWKS');

    const fresh = await token();
    assert.equal(decodeProtectedHeader(fresh).kid, oldKid, 'a pending key signed a token');
    await verifyAsResourceServer(fresh);
    await verifyAsResourceServer(oldToken);

    const listed = await listedKeys();
    for (const key of rotated) assert.equal(listed.find((k) => k.kid === key.kid)?.state, 'pending');
    assert.equal(listed.find((k) => k.kid === oldKid)?.state, 'active');
    // Everything above happened while the new keys were pending, or it proved nothing.
    const activatesAt = Math.min(...rotated.map((k) => Date.parse(k.activatesAt)));
    assert.ok(
      Date.now() < activatesAt,
      'the pending-phase checks ran past activation: raise KEY_PUBLISH_SECONDS',
    );
  });

  it('signs with the new key once it activates, and old tokens still verify against the published JWKS', async () => {
    const newKey = rotated.find((k) => k.alg === 'ES256');
    assert.ok(newKey);
    // Nothing can change before the announced activation; after it, poll (a loaded machine runs
    // the activation timer late) until the new key signs, with a generous deadline.
    await sleep(Math.max(0, Date.parse(newKey.activatesAt) - Date.now()));
    const deadline = Date.parse(newKey.activatesAt) + 15_000;
    let fresh = await token();
    while (decodeProtectedHeader(fresh).kid !== newKey.kid && Date.now() < deadline) {
      assert.equal(decodeProtectedHeader(fresh).kid, oldKid, 'signed by neither the old nor the new key');
      await sleep(100);
      fresh = await token();
    }
    assert.equal(decodeProtectedHeader(fresh).kid, newKey.kid, 'the new key does not sign after activation');
    await verifyAsResourceServer(fresh);
    assert.equal((await verifyAsResourceServer(oldToken)).kid, oldKid);
    const published = await publishedKids();
    assert.ok(published.includes(oldKid) && published.includes(newKey.kid));

    const listed = await listedKeys();
    for (const key of rotated) assert.equal(listed.find((k) => k.kid === key.kid)?.state, 'active');
    const retired = listed.find((k) => k.kid === oldKid);
    assert.equal(retired?.state, 'retired');
    assert.ok(retired?.retiresAt && Date.parse(retired.retiresAt) > Date.now() + 3600_000 - 10_000);
  });
});
