import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { Browser, formField, loginThroughForms } from '../helpers/browser.ts';
import { createApi, createClient, createMachineClient, createUser, discover } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const API = 'https://invoices.example.test';
const REDIRECT = 'https://app.example.test/callback';

describe('OIDC flows driven by a certified relying-party library', () => {
  let tg: TestInstance;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['read', 'write'], alg: 'ES256', ttl: 120 });
    await createUser(tg, { username: 'alice', password: 'correct horse battery', roles: ['accountant'] });
    const discovery = (await (await fetch(`${tg.url}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  });
  after(() => tg.close());

  /** RFC 9068 checks every access token we issue must pass. */
  async function assertAccessToken(
    token: string,
    expected: { sub: string; clientId: string; scope: string; roles?: string[] },
  ) {
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: tg.issuer,
      audience: API,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, expected.sub);
    assert.equal(payload.client_id, expected.clientId);
    assert.equal(payload.scope, expected.scope);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 120);
    assert.equal(typeof payload.jti, 'string');
    assert.deepEqual(payload.roles, expected.roles);
    return payload;
  }

  it('publishes discovery with S256 as the only PKCE method and the standard endpoints', async () => {
    const { config } = await createMachineClient(tg, { name: 'm2m', scope: 'read', api: API });
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, tg.issuer);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    for (const endpoint of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
      'userinfo_endpoint',
      'end_session_endpoint',
    ] as const) {
      assert.ok(meta[endpoint]?.startsWith(tg.issuer), endpoint);
    }
  });

  for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const) {
    it(`issues a client-credentials JWT for the client's default API with ${method}`, async () => {
      let auth: client.ClientAuth;
      let created: { client_id: string; client_secret?: string };
      if (method === 'private_key_jwt') {
        const { publicKey, privateKey } = await generateKeyPair('ES256');
        const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'k1' };
        created = await createClient(tg, {
          name: 'pkjwt',
          grant_types: ['client_credentials'],
          scope: 'read',
          api: API,
          roles: ['billing-service'],
          token_endpoint_auth_method: method,
          jwks: { keys: [jwk] },
        });
        auth = client.PrivateKeyJwt({ key: privateKey, kid: 'k1' });
      } else {
        created = await createClient(tg, {
          name: method,
          grant_types: ['client_credentials'],
          scope: 'read',
          api: API,
          roles: ['billing-service'],
          token_endpoint_auth_method: method,
        });
        auth =
          method === 'client_secret_basic'
            ? client.ClientSecretBasic(created.client_secret)
            : client.ClientSecretPost(created.client_secret);
      }
      const config = await discover(tg, created.client_id, auth);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.expires_in, 120);
      await assertAccessToken(tokens.access_token, {
        sub: created.client_id,
        clientId: created.client_id,
        scope: 'read',
        roles: ['billing-service'],
      });
    });
  }

  it('grants a client only the API scopes it was created with (default deny)', async () => {
    const { config } = await createMachineClient(tg, { name: 'narrow', scope: 'read', api: API });
    await assert.rejects(
      client.clientCredentialsGrant(config, { scope: 'write' }),
      (error: client.ResponseBodyError) => {
        assert.equal(error.error, 'invalid_scope');
        return true;
      },
    );
  });

  it('stops issuing tokens to a client the moment it is deleted', async () => {
    const { created, config } = await createMachineClient(tg, {
      name: 'short-lived',
      scope: 'read',
      api: API,
    });
    assert.ok((await client.clientCredentialsGrant(config, { scope: 'read' })).access_token);
    assert.equal((await tg.admin$('DELETE', `/clients/${created.client_id}`)).status, 204);
    await assert.rejects(
      client.clientCredentialsGrant(config, { scope: 'read' }),
      (error: client.WWWAuthenticateChallengeError) => {
        assert.equal(error.status, 401);
        return true;
      },
    );
  });

  describe('authorization code + PKCE through the login form', () => {
    let confidential: { client_id: string; client_secret?: string };
    let config: client.Configuration;

    before(async () => {
      confidential = await createClient(tg, {
        name: 'web',
        grant_types: ['authorization_code'],
        redirect_uris: [REDIRECT],
        scope: 'read',
        api: API,
      });
      config = await discover(
        tg,
        confidential.client_id,
        client.ClientSecretBasic(confidential.client_secret),
      );
    });

    async function login(cfg: client.Configuration, scope = 'openid profile offline_access read') {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: REDIRECT,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        prompt: 'consent',
      });
      const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, {
        username: 'alice',
        password: 'correct horse battery',
      });
      return client.authorizationCodeGrant(cfg, redirect, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
    }

    it('logs a user in and issues an ID token, a JWT access token with the user roles and a refresh token', async () => {
      const tokens = await login(config);
      const claims = tokens.claims();
      assert.ok(claims?.sub.startsWith('usr_'));
      // openid-client takes an ID token from the token endpoint without checking its signature
      // (it came over TLS); a relying party that keeps it and checks it later needs it to verify
      // against the published keys, with the alg registered for the client.
      assert.ok(tokens.id_token);
      const idToken = await jwtVerify(tokens.id_token, jwks, {
        issuer: tg.issuer,
        audience: confidential.client_id,
      });
      assert.equal(idToken.protectedHeader.alg, 'RS256');
      assert.equal(idToken.payload.sub, claims?.sub);
      await assertAccessToken(tokens.access_token, {
        sub: claims?.sub ?? '',
        clientId: confidential.client_id,
        scope: 'read',
        roles: ['accountant'],
      });
      assert.ok(tokens.refresh_token);
    });

    it('logs in a public client (no secret) with PKCE', async () => {
      const pub = await createClient(tg, {
        name: 'spa',
        grant_types: ['authorization_code'],
        redirect_uris: [REDIRECT],
        public: true,
        scope: 'read',
        api: API,
      });
      assert.equal(pub.client_secret, undefined);
      const cfg = await discover(tg, pub.client_id, client.None());
      const tokens = await login(cfg);
      await assertAccessToken(tokens.access_token, {
        sub: tokens.claims()?.sub ?? '',
        clientId: pub.client_id,
        scope: 'read',
        roles: ['accountant'],
      });
    });

    it('rotates the refresh token on every use, and reuse of a rotated one revokes the grant', async () => {
      const first = await login(config);
      const second = await client.refreshTokenGrant(config, first.refresh_token ?? '');
      assert.ok(second.refresh_token);
      assert.notEqual(second.refresh_token, first.refresh_token);
      await assertAccessToken(second.access_token, {
        sub: first.claims()?.sub ?? '',
        clientId: confidential.client_id,
        scope: 'read',
        roles: ['accountant'],
      });

      await assert.rejects(
        client.refreshTokenGrant(config, first.refresh_token ?? ''),
        (error: client.ResponseBodyError) => {
          assert.equal(error.error, 'invalid_grant');
          return true;
        },
      );
      // The whole grant is gone: even the newest refresh token no longer works.
      await assert.rejects(
        client.refreshTokenGrant(config, second.refresh_token ?? ''),
        (error: client.ResponseBodyError) => {
          assert.equal(error.error, 'invalid_grant');
          return true;
        },
      );
      assert.equal((await client.tokenIntrospection(config, second.refresh_token ?? '')).active, false);
    });

    it('introspects and revokes a refresh token', async () => {
      const tokens = await login(config);
      const before = await client.tokenIntrospection(config, tokens.refresh_token ?? '');
      assert.equal(before.active, true);
      assert.equal(before.client_id, confidential.client_id);
      await client.tokenRevocation(config, tokens.refresh_token ?? '');
      assert.equal((await client.tokenIntrospection(config, tokens.refresh_token ?? '')).active, false);
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token ?? ''));
    });

    it('introspects a JWT access token, revokes it by jti, and then reports it inactive', async () => {
      const tokens = await login(config);
      const active = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(active.active, true);
      assert.equal(active.aud, API);
      assert.equal(active.client_id, confidential.client_id);
      assert.equal(active.sub, tokens.claims()?.sub);
      await client.tokenRevocation(config, tokens.access_token);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
      // The rest of the grant is untouched: the refresh token still works.
      assert.ok((await client.refreshTokenGrant(config, tokens.refresh_token ?? '')).access_token);
    });

    it('does not let one client revoke the access token of another', async () => {
      const tokens = await login(config);
      const { config: otherConfig } = await createMachineClient(tg, {
        name: 'other',
        scope: 'read',
        api: API,
      });
      await assert.rejects(
        client.tokenRevocation(otherConfig, tokens.access_token),
        (error: client.ResponseBodyError) => {
          assert.equal(error.error, 'invalid_request');
          return true;
        },
      );
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    });

    it('logs the user out through the logout page, ending the session', async () => {
      const browser = new Browser();
      const verifier = client.randomPKCECodeVerifier();
      const params = {
        redirect_uri: REDIRECT,
        scope: 'openid read',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      };
      await loginThroughForms(browser, client.buildAuthorizationUrl(config, params).toString(), tg.issuer, {
        username: 'alice',
        password: 'correct horse battery',
      });
      // With a live session, prompt=none succeeds silently…
      const silent = await browser.follow(
        client.buildAuthorizationUrl(config, { ...params, prompt: 'none' }).toString(),
        tg.issuer,
      );
      assert.ok(new URL(silent.url).searchParams.get('code'));

      const page = await browser.request(`${tg.url}/session/end`);
      const html = await page.text();
      assert.match(html, /Sign out/);
      assert.doesNotMatch(html, /<script/i);
      const done = await browser.follow(`${tg.url}/session/end/confirm`, tg.issuer, {
        form: { xsrf: formField(html, 'xsrf'), logout: 'yes' },
      });
      assert.match(await done.response.text(), /signed out/);

      // …and after logout it must not.
      const after = await browser.follow(
        client.buildAuthorizationUrl(config, { ...params, prompt: 'none' }).toString(),
        tg.issuer,
      );
      assert.equal(new URL(after.url).searchParams.get('error'), 'login_required');
    });

    it('serves userinfo for an OIDC-only login of a client without a default API', async () => {
      const oidcOnly = await createClient(tg, {
        name: 'profile-only',
        grant_types: ['authorization_code'],
        redirect_uris: [REDIRECT],
      });
      const cfg = await discover(tg, oidcOnly.client_id, client.ClientSecretBasic(oidcOnly.client_secret));
      const tokens = await login(cfg, 'openid profile');
      const sub = tokens.claims()?.sub ?? '';
      const info = await client.fetchUserInfo(cfg, tokens.access_token, sub);
      assert.equal(info.sub, sub);
      assert.equal(info.preferred_username, 'alice');
      assert.deepEqual(info.roles, ['accountant']);
    });
  });

  it('keeps the admin credentials file private and never logs a secret, password or token', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(`${tg.dataDir}/admin.json`).mode & 0o777, 0o600);
    const { created, config } = await createMachineClient(tg, { name: 'log-scan', scope: 'read', api: API });
    const { access_token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    await client.tokenIntrospection(config, access_token);
    const logs = tg.logs.join('\n');
    assert.ok(logs.length > 0);
    for (const secret of [
      tg.admin.client_secret,
      created.client_secret ?? '',
      access_token,
      'correct horse battery',
    ]) {
      assert.ok(secret.length > 0);
      assert.equal(logs.includes(secret), false, 'a secret reached the log');
    }
  });

  it('lets only confidential clients introspect', async () => {
    const pub = await createClient(tg, {
      name: 'spa-introspect',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      public: true,
      scope: 'read',
      api: API,
    });
    const { config } = await createMachineClient(tg, { name: 'rs', scope: 'read', api: API });
    const { access_token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    const response = await fetch(`${tg.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: access_token, client_id: pub.client_id }),
    });
    assert.equal(((await response.json()) as { active: boolean }).active, false);
    assert.equal((await client.tokenIntrospection(config, access_token)).active, true);
  });
});
