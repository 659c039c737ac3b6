import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { skipUnless } from '../helpers/capabilities.ts';
import { CLIENT_SUBJECT_DN, certificateJwk, derBase64, type TestCertificate } from '../helpers/certs.ts';
import { askAsTraefik } from '../helpers/forward-auth.ts';
import { httpsRequest, MTLS_API, type MtlsSetup, startMtlsSetup } from '../helpers/mtls.ts';
import { nginxBinary, startNginx } from '../helpers/nginx.ts';
import { rawRequest } from '../helpers/raw-http.ts';

// CI installs Debian's nginx and requires it (TOLLGATE_TEST_REQUIRE), so this never skips there.
const skip = skipUnless('nginx');

/**
 * The API server of examples/nginx-mtls.conf: NGINX terminates TLS with client certificates and
 * asks Tollgate (auth_request) with the connection's certificate in X-SSL-Client-Cert, so a
 * token bound to a certificate passes only over a connection made with that certificate.
 */
describe('real NGINX with client certificates and auth_request in front of an upstream', { skip }, () => {
  let setup: MtlsSetup;
  /** tls_client_auth, bound to certs.client. */
  let bound: string;
  let boundClient: string;
  /** self_signed_tls_client_auth, bound to certs.selfSigned. */
  let selfBound: string;
  /** tls_client_auth, not bound. */
  let plain: string;

  const get = (
    token: string,
    certificate: TestCertificate | undefined,
    headers: Record<string, string> = {},
  ) =>
    httpsRequest(`${setup.nginx.apiUrl}/invoices/1`, {
      ca: setup.certs.ca,
      certificate,
      headers: { ...headers, authorization: `Bearer ${token}` },
    });

  before(async () => {
    setup = await startMtlsSetup();
    const { certs } = setup;
    const token = async (body: Record<string, unknown>, certificate: TestCertificate) => {
      const created = await setup.register(body);
      const config = await setup.configure(created.client_id, certificate);
      return {
        clientId: created.client_id,
        token: (await client.clientCredentialsGrant(config, { scope: 'read', resource: MTLS_API }))
          .access_token,
      };
    };
    const tls = {
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
    };
    ({ token: bound, clientId: boundClient } = await token(
      { name: 'bound', ...tls, tls_client_certificate_bound_access_tokens: true },
      certs.client,
    ));
    ({ token: selfBound } = await token(
      {
        name: 'self-signed',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [certificateJwk(certs.selfSigned)] },
        tls_client_certificate_bound_access_tokens: true,
      },
      certs.selfSigned,
    ));
    ({ token: plain } = await token({ name: 'plain', ...tls }, certs.client));
    assert.ok(decodeJwt(bound).cnf);
    assert.equal(decodeJwt(plain).cnf, undefined);
  });
  after(async () => {
    await setup?.close();
  });

  it('passes a bound token with its certificate, and the upstream gets no certificate header of the client’s', async () => {
    setup.reached.length = 0;
    const answer = await get(bound, setup.certs.client, { 'x-ssl-client-cert': 'forged' });
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { upstream: true });
    assert.equal(setup.reached.length, 1);
    const seen = setup.reached[0]?.headers ?? {};
    assert.equal(seen['x-tollgate-client'], boundClient);
    assert.equal(seen['x-ssl-client-cert'], undefined);
    assert.equal(seen['x-tollgate-gateway-key'], undefined);
  });

  it('answers 401 (mtls) for the bound token over a connection with another certificate or none', async () => {
    const { certs } = setup;
    setup.reached.length = 0;
    for (const [name, certificate] of [
      ['none', undefined],
      ['another client of the CA', certs.otherClient],
      ['self-signed, same names', certs.selfSigned],
      ['another CA, same names', certs.foreign],
    ] as const) {
      const answer = await get(bound, certificate);
      assert.equal(answer.status, 401, name);
      assert.match(String(answer.headers['www-authenticate']), /error_description="mtls"/, name);
    }
    assert.equal(setup.reached.length, 0);
  });

  it('believes no X-SSL-Client-Cert the client sends: NGINX sets it from the connection', async () => {
    const { certs } = setup;
    setup.reached.length = 0;
    for (const [name, certificate, forged] of [
      ['no certificate, escaped PEM', undefined, encodeURIComponent(certs.client.pem)],
      ['no certificate, base64 DER', undefined, derBase64(certs.client)],
      ['another certificate, escaped PEM', certs.otherClient, encodeURIComponent(certs.client.pem)],
    ] as const) {
      const answer = await get(bound, certificate, { 'X-SSL-Client-Cert': forged });
      assert.equal(answer.status, 401, name);
    }
    assert.equal(setup.reached.length, 0);
  });

  it('passes a self-signed client’s bound token with its own certificate: the API asks for no CA', async () => {
    const { certs } = setup;
    assert.equal((await get(selfBound, certs.selfSigned)).status, 200);
    assert.equal((await get(selfBound, certs.otherSelfSigned)).status, 401);
  });

  it('passes an unbound token with or without a certificate', async () => {
    assert.equal((await get(plain, undefined)).status, 200);
    assert.equal((await get(plain, setup.certs.otherClient)).status, 200);
  });

  it('takes no certificate header from a client through the plain example (nginx.conf) either', async () => {
    // A gateway without TLS has no certificate to give, but still passes the client's headers on
    // to Tollgate: one it does not overwrite would let a stolen bound token in with its
    // (public) certificate beside it.
    const plainNginx = await startNginx({
      binary: nginxBinary() as string,
      tollgateUrl: setup.tg.url,
      upstreamPort: setup.upstreamPort,
      gatewayKey: setup.gatewayKey,
    });
    try {
      setup.reached.length = 0;
      const send = (token: string, headers: Record<string, string> = {}) =>
        rawRequest(plainNginx.url, {
          method: 'GET',
          path: '/invoices/1',
          headers: { ...headers, authorization: `Bearer ${token}` },
        });
      for (const forged of [encodeURIComponent(setup.certs.client.pem), derBase64(setup.certs.client)]) {
        const answer = await send(bound, { 'X-SSL-Client-Cert': forged });
        assert.equal(answer.status, 401);
        assert.match(String(answer.headers['www-authenticate']), /error_description="mtls"/);
      }
      assert.equal(setup.reached.length, 0);
      assert.equal((await send(plain)).status, 200, 'the same gateway lets an unbound token through');
    } finally {
      await plainNginx.stop();
    }
  });

  it('believes a certificate header only from a gateway registered as passing client certificates', async () => {
    // A gateway that forwards its clients' headers as they came (a hand-written configuration)
    // would hand Tollgate whatever certificate the client wrote: only one created with
    // client_certificates is believed.
    const created = await setup.tg.admin$('POST', '/gateways', { name: 'passthrough', apis: [MTLS_API] });
    assert.equal(created.status, 201);
    const passthrough = (await created.json()) as { key: string; client_certificates: boolean };
    assert.equal(passthrough.client_certificates, false);
    const forward = (key: string) =>
      askAsTraefik(setup.tg.url, key, {
        authorization: `Bearer ${bound}`,
        'x-ssl-client-cert': encodeURIComponent(setup.certs.client.pem),
      });
    const refused = await forward(passthrough.key);
    assert.equal(refused.status, 401);
    assert.match(String(refused.headers.get('www-authenticate')), /error_description="mtls"/);
    assert.equal((await forward(setup.gatewayKey)).status, 200, 'the same request from the TLS gateway');
    // Said later, with the key unchanged, it is believed from then on; and unsaid again.
    const update = (client_certificates: boolean) =>
      setup.tg.admin$('PUT', '/gateways/passthrough/apis', { apis: [MTLS_API], client_certificates });
    assert.equal((await update(true)).status, 200);
    assert.equal((await forward(passthrough.key)).status, 200);
    assert.equal((await update(false)).status, 200);
    assert.equal((await forward(passthrough.key)).status, 401);
  });

  it('never answers 500 for what Tollgate refuses (auth_request knows only 401 and 403)', async () => {
    assert.doesNotMatch(await setup.nginx.errorLog(), /auth request unexpected status/);
  });
});
