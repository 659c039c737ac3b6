import { execFile } from 'node:child_process';
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  certPath: string;
  keyPath: string;
  pem: string;
  keyPem: string;
  x509: X509Certificate;
}

export interface TestCertificates {
  /** The CA of NGINX's server certificate and of the clients it accepts for tls_client_auth. */
  ca: TestCertificate;
  /** NGINX's server certificate: IP 127.0.0.1 and DNS localhost. */
  server: TestCertificate;
  /**
   * CN=invoice-service,O=Acme with SAN DNS:invoice-service.acme.test (and a URI, IP addresses
   * and an email address: CLIENT_NAMES, CLIENT_SAN_IPV6), signed by `ca`.
   */
  client: TestCertificate;
  /** CN=report-service,O=Acme, signed by `ca`: valid, but another client. */
  otherClient: TestCertificate;
  /** Self-signed, naming itself exactly as `client` does: only the CA tells them apart. */
  selfSigned: TestCertificate;
  /** Another self-signed certificate, same names again. */
  otherSelfSigned: TestCertificate;
  /** Signed by an unrelated CA, naming itself exactly as `client` does. */
  foreign: TestCertificate;
  /**
   * Signed by `ca` for a name chosen to spell `client`'s: one CN `invoice-service,O=Acme`, and one
   * dNSName `x.acme.test, DNS:invoice-service.acme.test` (a CA that signs what it is asked to).
   */
  impostor: TestCertificate;
  remove(): Promise<void>;
}

export const CLIENT_SUBJECT_DN = 'CN=invoice-service,O=Acme';
export const CLIENT_SAN_DNS = 'invoice-service.acme.test';

/** Every name `client` carries, by the tls_client_auth_* metadata that registers it (RFC 8705 §2.1.2). */
export const CLIENT_NAMES = {
  tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
  tls_client_auth_san_dns: CLIENT_SAN_DNS,
  tls_client_auth_san_uri: 'spiffe://acme.test/invoice-service',
  tls_client_auth_san_ip: '10.1.2.3',
  tls_client_auth_san_email: 'invoice-service@acme.test',
} as const;

/** Another iPAddress of `client`'s, registered as RFC 5952 writes it. */
export const CLIENT_SAN_IPV6 = '2001:db8::7';

/** openssl's -subj spelling of CLIENT_SUBJECT_DN: first RDN first, so O before CN. */
const CLIENT_SUBJ = '/O=Acme/CN=invoice-service';
const CLIENT_SAN = [
  `DNS:${CLIENT_SAN_DNS}`,
  `URI:${CLIENT_NAMES.tls_client_auth_san_uri}`,
  `IP:${CLIENT_NAMES.tls_client_auth_san_ip}`,
  `IP:${CLIENT_SAN_IPV6}`,
  `email:${CLIENT_NAMES.tls_client_auth_san_email}`,
].join(', ');

/** Extensions by section, for `openssl req -extensions` and `openssl x509 -extfile`. */
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = ${CLIENT_SAN}
[other_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:report-service.acme.test
[impostor]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = @impostor_names
[impostor_names]
DNS.1 = x.acme.test, DNS:${CLIENT_SAN_DNS}
`;

/**
 * Certificates for mutual TLS tests, made with the openssl command line in a temp dir: P-256
 * keys, valid for two days.
 */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-certs-'));
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const validity = ['-days', '2'];

  async function loaded(name: string): Promise<TestCertificate> {
    const [certPath, keyPath] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
    const [pem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { certPath, keyPath, pem, keyPem, x509: new X509Certificate(pem) };
  }
  async function selfSigned(name: string, subject: string, extensions: string): Promise<TestCertificate> {
    await run('openssl', [
      'req',
      '-x509',
      ...newKey,
      ...validity,
      '-config',
      config,
      '-extensions',
      extensions,
      '-subj',
      subject,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.pem`),
    ]);
    return loaded(name);
  }
  async function signed(
    name: string,
    subject: string,
    extensions: string,
    issuer: TestCertificate,
  ): Promise<TestCertificate> {
    const csr = join(dir, `${name}.csr`);
    await run('openssl', [
      'req',
      '-new',
      ...newKey,
      '-config',
      config,
      '-subj',
      subject,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      csr,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.certPath,
      '-CAkey',
      issuer.keyPath,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      ...validity,
      '-extfile',
      config,
      '-extensions',
      extensions,
      '-out',
      join(dir, `${name}.pem`),
    ]);
    return loaded(name);
  }

  const [ca, foreignCa] = await Promise.all([
    selfSigned('ca', '/O=Acme/CN=Acme Test CA', 'ca'),
    selfSigned('foreign-ca', '/O=Elsewhere/CN=Unrelated Test CA', 'ca'),
  ]);
  const [server, client, otherClient, selfSignedClient, otherSelfSigned, foreign, impostor] =
    await Promise.all([
      signed('server', '/CN=localhost', 'server', ca),
      signed('client', CLIENT_SUBJ, 'client', ca),
      signed('other-client', '/O=Acme/CN=report-service', 'other_client', ca),
      selfSigned('self-signed', CLIENT_SUBJ, 'client'),
      selfSigned('other-self-signed', CLIENT_SUBJ, 'client'),
      signed('foreign', CLIENT_SUBJ, 'client', foreignCa),
      signed('impostor', '/CN=invoice-service,O=Acme', 'impostor', ca),
    ]);
  return {
    ca,
    server,
    client,
    otherClient,
    selfSigned: selfSignedClient,
    otherSelfSigned,
    foreign,
    impostor,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The certificate's DER in base64, one line: an `x5c` entry, or a relayed certificate. */
export function derBase64(certificate: TestCertificate): string {
  return certificate.x509.raw.toString('base64');
}

/** The certificate's public key as a JWK with the certificate in `x5c` (self_signed_tls_client_auth). */
export function certificateJwk(certificate: TestCertificate): Record<string, unknown> {
  return {
    ...createPublicKey(certificate.pem).export({ format: 'jwk' }),
    x5c: [derBase64(certificate)],
  };
}
