import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { makeCertificates, type TestCertificate, type TestCertificates } from './certs.ts';
import { createApi, createClient } from './fixtures.ts';
import { startTestInstance, type TestInstance } from './instance.ts';
import { freePort } from './net.ts';
import { nginxBinary, type RunningNginxMtls, startNginxMtls } from './nginx.ts';
import { anyoneReads } from './policies.ts';
import { requestToken } from './tokens.ts';

export const MTLS_API = 'https://invoices.example.test';
const POLICY = anyoneReads('Invoice', '/invoices');

export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request over node:https trusting `ca`, presenting `certificate` (none when undefined): a
 * connection of its own each time, so no handshake is reused across certificates.
 */
export function httpsRequest(
  url: string,
  options: {
    ca: TestCertificate;
    certificate?: TestCertificate | undefined;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca.pem,
        ...(options.certificate ? { cert: options.certificate.pem, key: options.certificate.keyPem } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * openid-client's customFetch over node:https, presenting `certificate` on every request, with
 * `headers` added (what a client could forge).
 */
export function mtlsFetch(
  ca: TestCertificate,
  certificate?: TestCertificate,
  headers: Record<string, string> = {},
) {
  return async (
    url: string,
    init: { method: string; headers: Record<string, string>; body?: unknown },
  ): Promise<Response> => {
    const answer = await httpsRequest(url, {
      ca,
      certificate,
      method: init.method,
      headers: { ...init.headers, ...headers },
      ...(init.body === undefined || init.body === null ? {} : { body: String(init.body) }),
    });
    const received = new Headers();
    for (const [name, value] of Object.entries(answer.headers))
      for (const one of [value ?? []].flat()) received.append(name, one);
    const empty = [204, 205, 304].includes(answer.status);
    return new Response(empty ? null : answer.body, { status: answer.status, headers: received });
  };
}

export interface MtlsSetup {
  certs: TestCertificates;
  tg: TestInstance;
  /** examples/nginx-mtls.conf: (a) Tollgate at `nginx.tollgateUrl` (the ISSUER), (b) the API. */
  nginx: RunningNginxMtls;
  /** Requests that reached the API behind (b), with their headers. */
  reached: { url: string; headers: IncomingHttpHeaders }[];
  upstreamPort: number;
  /** The key of the gateway `edge`, which protects MTLS_API. */
  gatewayKey: string;
  /** A service's token for POST /decide (client_secret_basic, straight to Tollgate). */
  caller: string;
  /** Registers a client through the admin API (client_credentials, granted MTLS_API's `read`). */
  register(body: Record<string, unknown>): Promise<{ client_id: string; client_secret?: string }>;
  /**
   * openid-client for a client (authenticated by certificate unless `auth` says otherwise), by
   * discovery through NGINX; it presents `certificate` (change it with `present`).
   */
  configure(
    clientId: string,
    certificate: TestCertificate | undefined,
    auth?: client.ClientAuth,
  ): Promise<client.Configuration>;
  present(
    config: client.Configuration,
    certificate: TestCertificate | undefined,
    headers?: Record<string, string>,
  ): void;
  /** POST /decide about reading invoice 1 for `subject`. */
  decide(subject: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * Tollgate behind the shipped NGINX mutual TLS example, on real TLS: Tollgate with
 * MTLS_CERTIFICATE_HEADER=x-ssl-client-cert, trusting 127.0.0.1 (NGINX), its ISSUER NGINX's
 * https URL; a policy for MTLS_API and a gateway for it; an upstream behind the API server.
 */
export async function startMtlsSetup(): Promise<MtlsSetup> {
  const certs = await makeCertificates();
  const [tollgatePort, apiPort] = [await freePort(), await freePort()];
  const tg = await startTestInstance({
    ISSUER: `https://127.0.0.1:${tollgatePort}`,
    MTLS_CERTIFICATE_HEADER: 'x-ssl-client-cert',
    TRUSTED_PROXIES: '127.0.0.1',
    // Refusals are the point here: every one counts as a failed client authentication.
    CLIENT_AUTH_MAX_FAILURES: '1000',
    CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000',
  });
  const pushed = await tg.admin$('POST', '/policies', { files: [{ name: 'invoice.yaml', content: POLICY }] });
  assert.equal(pushed.status, 201, await pushed.clone().text());
  await createApi(tg, { audience: MTLS_API, scopes: ['read'] });
  const gateway = await tg.admin$('POST', '/gateways', {
    name: 'edge',
    apis: [MTLS_API],
    client_certificates: true,
  });
  assert.equal(gateway.status, 201, await gateway.clone().text());
  const { key } = (await gateway.json()) as { key: string };

  const reached: MtlsSetup['reached'] = [];
  const upstream: Server = createServer((req, res) => {
    reached.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: true }));
  });
  await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const nginx = await startNginxMtls({
    binary: nginxBinary() as string,
    tollgateUrl: tg.url,
    upstreamPort,
    gatewayKey: key,
    tollgatePort,
    apiPort,
    tls: { certPath: certs.server.certPath, keyPath: certs.server.keyPath, clientCaPath: certs.ca.certPath },
  });

  const svc = await decideCaller(tg);
  const present: MtlsSetup['present'] = (config, certificate, headers) => {
    config[client.customFetch] = mtlsFetch(certs.ca, certificate, headers);
  };
  return {
    certs,
    tg,
    nginx,
    reached,
    upstreamPort,
    gatewayKey: key,
    caller: svc,
    register: (body) =>
      createClient(tg, { grant_types: ['client_credentials'], scope: 'read', api: MTLS_API, ...body }),
    async configure(clientId, certificate, auth = client.TlsClientAuth()) {
      const config = await client.discovery(new URL(nginx.tollgateUrl), clientId, {}, auth, {
        [client.customFetch]: mtlsFetch(certs.ca),
      });
      present(config, certificate);
      return config;
    },
    present,
    async decide(subject) {
      const response = await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, action: 'read', resource: { type: 'Invoice', id: '1' } }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async close() {
      await nginx.stop();
      await new Promise((done) => upstream.close(done));
      await tg.close();
      await certs.remove();
    },
  };
}

/** A /decide caller's token, asked for at Tollgate's own port (the https issuer is NGINX's). */
async function decideCaller(tg: TestInstance): Promise<string> {
  const created = await createClient(tg, {
    name: 'svc',
    grant_types: ['client_credentials'],
    scope: 'decide',
    api: 'urn:tollgate',
  });
  const body = (await (await requestToken(tg.url, created, { scope: 'decide' })).json()) as {
    access_token?: string;
  };
  assert.ok(body.access_token, JSON.stringify(body));
  return body.access_token;
}
