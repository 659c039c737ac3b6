import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { skipUnless } from '../helpers/capabilities.ts';
import {
  CLIENT_NAMES,
  CLIENT_SAN_IPV6,
  CLIENT_SUBJECT_DN,
  certificateJwk,
  derBase64,
  type TestCertificate,
} from '../helpers/certs.ts';
import { dpopProof } from '../helpers/dpop.ts';
import { createApi, createClient } from '../helpers/fixtures.ts';
import { startTestInstance } from '../helpers/instance.ts';
import { httpsRequest, MTLS_API, type MtlsSetup, startMtlsSetup } from '../helpers/mtls.ts';
import { requestToken } from '../helpers/tokens.ts';

// CI installs Debian's nginx and requires it (TOLLGATE_TEST_REQUIRE), so this never skips there.
const skip = skipUnless('nginx');

/** x5t#S256 (RFC 8705 §3.1), computed here rather than by the code under test. */
const thumbprint = (certificate: TestCertificate) =>
  createHash('sha256').update(certificate.x509.raw).digest('base64url');
/** As NGINX's $ssl_client_escaped_cert writes it. */
const escaped = (certificate: TestCertificate) => encodeURIComponent(certificate.pem);

type Outcome = { token: string } | { status: number; error: string; description: string };

/**
 * Mutual TLS (RFC 8705) end to end: real TLS terminated by the shipped NGINX example in front of
 * Tollgate, clients made with openid-client (TlsClientAuth, certificates presented by node:https),
 * certificates made with openssl. Tokens bound to a certificate are then decided by POST /decide
 * with the certificate a service relays.
 */
describe('mutual TLS client authentication and certificate-bound tokens', { skip }, () => {
  let setup: MtlsSetup;
  /** tls_client_auth by subject DN, certificate-bound tokens. */
  let byDn: client.Configuration;
  /**
   * tls_client_auth with certificate-bound tokens, registered by each name certs.client carries,
   * its DN spelled otherwise too (attribute types in lower case, a space after the comma).
   */
  const byName = new Map<string, client.Configuration>();
  /** tls_client_auth by subject DN, tokens not bound. */
  let unbound: client.Configuration;
  /** self_signed_tls_client_auth with the self-signed certificate in its jwks. */
  let selfSigned: client.Configuration;
  let selfSignedId: string;

  async function attempt(
    config: client.Configuration,
    certificate: TestCertificate | undefined,
    options: { headers?: Record<string, string>; resource?: string } = {},
  ): Promise<Outcome> {
    setup.present(config, certificate, options.headers);
    try {
      const answer = await client.clientCredentialsGrant(config, {
        scope: 'read',
        resource: options.resource ?? MTLS_API,
      });
      return { token: answer.access_token };
    } catch (error) {
      if (!(error instanceof client.ResponseBodyError)) throw error;
      return { status: error.status, error: error.error, description: error.error_description ?? '' };
    }
  }
  const tokenOf = (outcome: Outcome): string => {
    assert.ok('token' in outcome, JSON.stringify(outcome));
    return outcome.token;
  };
  const refusal = (outcome: Outcome) => ('token' in outcome ? 'a token' : [outcome.status, outcome.error]);

  before(async () => {
    setup = await startMtlsSetup();
    const { certs } = setup;
    const tls = { token_endpoint_auth_method: 'tls_client_auth' };
    const names = [
      ...Object.entries(CLIENT_NAMES),
      ['tls_client_auth_subject_dn', 'cn=invoice-service, o=Acme'],
      ['tls_client_auth_san_ip', CLIENT_SAN_IPV6],
    ];
    const ids = await Promise.all([
      setup.register({ name: 'unbound', ...tls, tls_client_auth_subject_dn: CLIENT_SUBJECT_DN }),
      setup.register({
        name: 'self-signed',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [certificateJwk(certs.selfSigned)] },
        tls_client_certificate_bound_access_tokens: true,
      }),
      ...names.map(([property, value]) =>
        setup.register({
          name: `by ${property}`,
          ...tls,
          [property as string]: value,
          tls_client_certificate_bound_access_tokens: true,
        }),
      ),
    ]);
    for (const created of ids) assert.equal(created.client_secret, undefined, 'no secret for mTLS clients');
    const configs = await Promise.all(ids.map((created) => setup.configure(created.client_id, certs.client)));
    [unbound, selfSigned] = configs as [client.Configuration, client.Configuration];
    selfSignedId = ids[1]?.client_id ?? '';
    names.forEach(([property, value], i) => {
      byName.set(`${property}=${value}`, configs[i + 2] as client.Configuration);
    });
    byDn = byName.get(`tls_client_auth_subject_dn=${CLIENT_SUBJECT_DN}`) as client.Configuration;
  });
  after(async () => {
    await setup?.close();
  });

  it('says so in discovery: both methods, certificate-bound tokens', () => {
    const metadata = byDn.serverMetadata();
    assert.equal(metadata.issuer, setup.nginx.tollgateUrl);
    for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'])
      assert.ok(metadata.token_endpoint_auth_methods_supported?.includes(method), method);
    assert.equal(metadata.tls_client_certificate_bound_access_tokens, true);
  });

  it('issues a tls_client_auth client presenting its CA-signed certificate a token bound to it (cnf.x5t#S256), whichever name registers it', async () => {
    const { certs } = setup;
    assert.equal(byName.size, 7);
    for (const [registered, config] of byName) {
      const token = tokenOf(await attempt(config, certs.client));
      assert.deepEqual(decodeJwt(token).cnf, { 'x5t#S256': thumbprint(certs.client) }, registered);
      assert.equal(decodeJwt(token).client_id, config.clientMetadata().client_id, registered);
    }
    assert.equal(decodeJwt(tokenOf(await attempt(unbound, certs.client))).cnf, undefined);
  });

  it('refuses tls_client_auth (401 invalid_client) without a certificate, with another client’s, or with a self-signed, foreign-CA or name-spelling one', async () => {
    const { certs } = setup;
    const refused = [
      ['none', undefined],
      ['another client of the CA', certs.otherClient],
      ['self-signed, same names', certs.selfSigned],
      ['another CA, same names', certs.foreign],
      ['CA-signed, names that spell the registered ones', certs.impostor],
    ] as const;
    for (const [registered, config] of byName) {
      for (const [name, certificate] of refused) {
        assert.deepEqual(
          refusal(await attempt(config, certificate)),
          [401, 'invalid_client'],
          `${registered}: ${name}`,
        );
      }
    }
  });

  it('believes no certificate header a client sends over TLS: NGINX sets its own', async () => {
    const { certs } = setup;
    for (const [name, certificate, forged] of [
      ['no certificate, escaped PEM', undefined, escaped(certs.client)],
      ['no certificate, base64 DER', undefined, derBase64(certs.client)],
      ['self-signed with the same names', certs.selfSigned, escaped(certs.client)],
      ['another CA, same names', certs.foreign, escaped(certs.client)],
    ] as const) {
      const headers = { 'X-SSL-Client-Cert': forged, 'X-SSL-Client-Verify': 'SUCCESS' };
      assert.deepEqual(refusal(await attempt(byDn, certificate, { headers })), [401, 'invalid_client'], name);
    }
    // The verdict alone, with the client's own self-signed certificate naming the client.
    assert.deepEqual(
      refusal(await attempt(byDn, certs.selfSigned, { headers: { 'X-SSL-Client-Verify': 'SUCCESS' } })),
      [401, 'invalid_client'],
    );
  });

  it('believes the certificate headers only from TRUSTED_PROXIES', async () => {
    const { certs } = setup;
    // Straight to Tollgate's port, as any process that reaches it could send them.
    const direct = async (url: string, clientId: string, certificate: TestCertificate) => {
      const response = await fetch(`${url}/token`, {
        method: 'POST',
        headers: {
          'x-ssl-client-cert': escaped(certificate),
          'x-ssl-client-verify': 'SUCCESS',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          scope: 'read',
          resource: MTLS_API,
        }),
      });
      return [response.status, ((await response.json()) as { error?: string }).error];
    };
    // Loopback is NGINX's address here, so a local process's headers are believed: the proxy's
    // address is the whole of the trust.
    assert.deepEqual(await direct(setup.tg.url, byDn.clientMetadata().client_id, certs.client), [
      200,
      undefined,
    ]);
    assert.deepEqual(await direct(setup.tg.url, selfSignedId, certs.selfSigned), [200, undefined]);
    const elsewhere = await startTestInstance({
      MTLS_CERTIFICATE_HEADER: 'x-ssl-client-cert',
      TRUSTED_PROXIES: '10.9.9.9',
    });
    try {
      await createApi(elsewhere, { audience: MTLS_API, scopes: ['read'] });
      const register = (body: Record<string, unknown>) =>
        createClient(elsewhere, {
          grant_types: ['client_credentials'],
          scope: 'read',
          api: MTLS_API,
          ...body,
        });
      const tls = await register({
        name: 'by-dn',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
      });
      // Needs no verdict of the proxy's: only the certificate header stands between it and a token.
      const self = await register({
        name: 'self-signed',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [certificateJwk(certs.selfSigned)] },
      });
      assert.deepEqual(await direct(elsewhere.url, tls.client_id, certs.client), [401, 'invalid_client']);
      assert.deepEqual(await direct(elsewhere.url, self.client_id, certs.selfSigned), [
        401,
        'invalid_client',
      ]);
    } finally {
      await elsewhere.close();
    }
  });

  it('authenticates a self_signed_tls_client_auth client by the certificate in its jwks (x5c) only', async () => {
    const { certs } = setup;
    const token = tokenOf(await attempt(selfSigned, certs.selfSigned));
    assert.equal(decodeJwt(token).client_id, selfSignedId);
    assert.deepEqual(decodeJwt(token).cnf, { 'x5t#S256': thumbprint(certs.selfSigned) });
    for (const [name, certificate] of [
      ['another self-signed, same names', certs.otherSelfSigned],
      ['CA-signed, same names', certs.client],
      ['none', undefined],
    ] as const) {
      assert.deepEqual(refusal(await attempt(selfSigned, certificate)), [401, 'invalid_client'], name);
    }
  });

  it('decides for a bound token with its certificate relayed as escaped PEM, PEM or base64 DER', async () => {
    const { certs } = setup;
    const bound = tokenOf(await attempt(byDn, certs.client));
    for (const [form, certificate] of [
      ['escaped PEM', escaped(certs.client)],
      ['PEM', certs.client.pem],
      ['base64 DER', derBase64(certs.client)],
    ] as const) {
      const answer = await setup.decide({ token: bound, certificate });
      assert.equal(answer.status, 200, form);
      assert.equal(answer.body.allow, true, `${form}: ${JSON.stringify(answer.body)}`);
    }
  });

  it('refuses a bound token at /decide without its certificate, with another, or with garbage (detail mtls)', async () => {
    const { certs } = setup;
    const bound = tokenOf(await attempt(byDn, certs.client));
    const pem = certs.client.pem;
    // Accepted once first: whatever is remembered of the token, the certificate is checked every time.
    assert.equal((await setup.decide({ token: bound, certificate: pem })).body.allow, true);
    for (const [name, certificate] of [
      ['none', undefined],
      ['another client of the CA', certs.otherClient.pem],
      ['self-signed, same names', certs.selfSigned.pem],
      ['another CA, same names', escaped(certs.foreign)],
      ['the CA', certs.ca.pem],
      ['garbage', 'not a certificate'],
      ['truncated', pem.slice(0, pem.length / 2)],
      ['bad escape', `%ZZ${escaped(certs.client)}`],
      ['its thumbprint', thumbprint(certs.client)],
    ] as const) {
      const answer = await setup.decide({ token: bound, ...(certificate ? { certificate } : {}) });
      assert.equal(answer.status, 200, name);
      assert.deepEqual(
        [answer.body.allow, answer.body.reason, answer.body.detail],
        [false, 'subject_token_invalid', 'mtls'],
        name,
      );
    }
    // An unbound token needs none, and any certificate is no matter to it.
    const plain = tokenOf(await attempt(unbound, certs.client));
    assert.equal((await setup.decide({ token: plain })).body.allow, true);
    assert.equal((await setup.decide({ token: plain, certificate: certs.otherClient.pem })).body.allow, true);
  });

  it('holds /decide/plan to the same certificate', async () => {
    const { certs } = setup;
    const bound = tokenOf(await attempt(byDn, certs.client));
    const plan = async (subject: Record<string, unknown>) =>
      (await (
        await fetch(`${setup.tg.url}/decide/plan`, {
          method: 'POST',
          headers: { authorization: `Bearer ${setup.caller}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject, action: 'read', resource: { type: 'Invoice' } }),
        })
      ).json()) as Record<string, unknown>;
    assert.deepEqual((await plan({ token: bound, certificate: certs.client.pem })).plan, { kind: 'always' });
    for (const certificate of [undefined, certs.otherClient.pem]) {
      const answer = await plan({ token: bound, ...(certificate ? { certificate } : {}) });
      assert.deepEqual([answer.plan, answer.detail], [{ kind: 'never' }, 'mtls']);
    }
  });

  it('never accepts a certificate-bound token as a caller of Tollgate’s own API', async () => {
    const { certs } = setup;
    const callerToken = async (bound: boolean) => {
      const svc = await setup.register({
        name: bound ? 'bound-svc' : 'unbound-svc',
        scope: 'decide',
        api: 'urn:tollgate',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
        ...(bound ? { tls_client_certificate_bound_access_tokens: true } : {}),
      });
      const config = await setup.configure(svc.client_id, certs.client);
      return (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
    };
    const body = JSON.stringify({ subject: { id: 'u1' }, action: 'read', resource: { type: 'Invoice' } });
    // Through NGINX with the certificate too: callers of /decide present bearer tokens only.
    const call = (token: string) =>
      httpsRequest(`${setup.nginx.tollgateUrl}/decide`, {
        ca: certs.ca,
        certificate: certs.client,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    const bound = await callerToken(true);
    assert.ok(decodeJwt(bound).cnf);
    const refused = await call(bound);
    assert.equal(refused.status, 401);
    assert.match(refused.body, /not accepted as a Bearer token/);
    assert.equal((await call(await callerToken(false))).status, 200, 'its unbound twin is accepted');
  });

  it('issues tokens for an API created with require_binding mtls only to clients registered for bound tokens', async () => {
    const { certs } = setup;
    const STRICT = 'https://strict.example.test';
    const created = await setup.tg.admin$('POST', '/apis', {
      audience: STRICT,
      scopes: ['read'],
      require_binding: 'mtls',
    });
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal(((await created.json()) as { require_binding: string }).require_binding, 'mtls');
    const strict = { resource: STRICT };

    // Authenticated by its certificate, but its tokens would not be bound.
    const tlsUnbound = await setup.register({
      name: 'strict-unbound',
      api: STRICT,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
    });
    const refused = await attempt(
      await setup.configure(tlsUnbound.client_id, certs.client),
      certs.client,
      strict,
    );
    assert.deepEqual(refusal(refused), [400, 'invalid_request']);
    assert.match('description' in refused ? refused.description : '', /accepts only certificate-bound/);

    // A client with a secret, not bound, straight to Tollgate.
    const secret = await setup.register({ name: 'strict-secret', api: STRICT });
    const answer = await requestToken(setup.tg.url, secret, { scope: 'read', resource: STRICT });
    assert.equal(answer.status, 400);
    assert.equal(((await answer.json()) as { error: string }).error, 'invalid_request');

    const tlsBound = await setup.register({
      name: 'strict-bound',
      api: STRICT,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
      tls_client_certificate_bound_access_tokens: true,
    });
    const token = tokenOf(
      await attempt(await setup.configure(tlsBound.client_id, certs.client), certs.client, strict),
    );
    assert.deepEqual(decodeJwt(token).cnf, { 'x5t#S256': thumbprint(certs.client) });
    assert.equal((await setup.decide({ token, certificate: certs.client.pem })).body.allow, true);
  });

  it('refuses at /decide an unbound or DPoP-bound token for an API that has come to require mtls', async () => {
    const LATER = 'https://later-mtls.example.test';
    await createApi(setup.tg, { audience: LATER, scopes: ['read'] });
    const created = await setup.register({ name: 'later-app', api: LATER });
    const config = await setup.configure(
      created.client_id,
      undefined,
      client.ClientSecretBasic(created.client_secret),
    );
    const params = { scope: 'read', resource: LATER };
    const plain = (await client.clientCredentialsGrant(config, params)).access_token;
    const keys = await client.randomDPoPKeyPair('ES256');
    const dpopBound = (
      await client.clientCredentialsGrant(config, params, { DPoP: client.getDPoPHandle(config, keys) })
    ).access_token;
    const url = 'https://later-mtls.example.test/invoices/1';
    const withProof = async () => ({
      token: dpopBound,
      dpop: { proof: await dpopProof({ keys, token: dpopBound, htu: url }), method: 'GET', url },
      certificate: setup.certs.client.pem,
    });
    assert.equal((await setup.decide({ token: plain })).body.allow, true);
    assert.equal((await setup.decide(await withProof())).body.allow, true);
    // As an operator's direct change (or an upgrade) would: no API is edited through the admin API.
    await setup.tg.database.handle.db
      .updateTable('apis')
      .set({ token_binding: 'mtls' })
      .where('audience', '=', LATER)
      .execute();
    const deadline = Date.now() + 10_000;
    let answer = await setup.decide({ token: plain });
    while (answer.body.detail !== 'mtls' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await setup.decide({ token: plain });
    }
    assert.deepEqual([answer.body.allow, answer.body.detail], [false, 'mtls']);
    // A certificate beside an unbound token binds nothing; a DPoP proof is not the binding asked for.
    const withCertificate = await setup.decide({ token: plain, certificate: setup.certs.client.pem });
    assert.deepEqual([withCertificate.body.allow, withCertificate.body.detail], [false, 'mtls']);
    const dpop = await setup.decide(await withProof());
    assert.deepEqual([dpop.body.allow, dpop.body.detail], [false, 'mtls']);
  });
});
