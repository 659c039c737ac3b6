import { hash, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import { constantTimeEqual } from '../common/index.ts';

/**
 * Mutual TLS (RFC 8705) behind a TLS-terminating proxy: Tollgate never sees the TLS handshake,
 * so the proxy that did (NGINX `ssl_verify_client`) passes the client's certificate in a header
 * (`$ssl_client_escaped_cert`, URL-escaped PEM) and whether it verified it against the CA
 * (`$ssl_client_verify`, `SUCCESS`). Both are believed only from a peer in TRUSTED_PROXIES,
 * whatever any other sender writes in them; with MTLS_CERTIFICATE_HEADER unset, nobody has a
 * certificate.
 */
export interface MtlsSettings {
  /** The header the proxy puts the client certificate in; undefined: mutual TLS is off. */
  certificateHeader: string | undefined;
  /** The header saying the proxy verified the certificate against its CA (`SUCCESS`). */
  verifiedHeader: string;
  trustedProxies: readonly string[];
}

export interface ClientCertificates {
  readonly enabled: boolean;
  /** The certificate a trusted proxy passed on for this request, or undefined. */
  of(req: IncomingMessage): X509Certificate | undefined;
  /** Whether a trusted proxy verified this request's certificate against its CA (tls_client_auth). */
  verified(req: IncomingMessage): boolean;
}

/** Parsed certificates remembered by their header text: a gateway sends the same few over and over. */
const REMEMBERED = 1000;

export function clientCertificates(settings: MtlsSettings): ClientCertificates {
  const trust = proxyaddr.compile([...settings.trustedProxies]);
  const header = settings.certificateHeader?.toLowerCase();
  const verifiedHeader = settings.verifiedHeader.toLowerCase();
  const fromProxy = (req: IncomingMessage) => trust(req.socket.remoteAddress ?? '', 0);
  return {
    enabled: header !== undefined,
    of(req) {
      if (header === undefined || !fromProxy(req)) return undefined;
      return parseCertificate(req.headers[header]);
    },
    verified(req) {
      return header !== undefined && fromProxy(req) && req.headers[verifiedHeader] === 'SUCCESS';
    },
  };
}

const parsed = new Map<string, X509Certificate | undefined>();

/**
 * A certificate as a proxy or a service relays it: PEM, URL-escaped PEM (NGINX), or one line of
 * base64 DER. Anything else, or several values, is no certificate.
 */
export function parseCertificate(value: unknown): X509Certificate | undefined {
  if (typeof value !== 'string' || value === '' || value.length > 16_384) return undefined;
  if (parsed.has(value)) return parsed.get(value);
  let certificate: X509Certificate | undefined;
  try {
    const text = value.includes('%') ? decodeURIComponent(value) : value;
    certificate = new X509Certificate(text.includes('-----BEGIN') ? text : Buffer.from(text, 'base64'));
  } catch {
    certificate = undefined;
  }
  if (parsed.size >= REMEMBERED) parsed.clear();
  parsed.set(value, certificate);
  return certificate;
}

/** `x5t#S256` (RFC 8705 §3.1): the base64url SHA-256 of the certificate's DER. */
export function certificateThumbprint(certificate: X509Certificate): string {
  return hash('sha256', certificate.raw, 'base64url');
}

/** Whether `certificate` is the one a token's `cnf.x5t#S256` names (compared in constant time). */
export function certificateBinds(certificate: X509Certificate | undefined, thumbprint: string): boolean {
  return certificate !== undefined && constantTimeEqual(certificateThumbprint(certificate), thumbprint);
}

/**
 * The tls_client_auth_san_* metadata (RFC 8705 §2.1.2) compared as text, and the subjectAltName
 * prefix each names. oidc-provider names the property by its metadata name.
 */
const SAN_PREFIX: Readonly<Record<string, string>> = {
  tls_client_auth_san_dns: 'DNS:',
  tls_client_auth_san_uri: 'URI:',
  tls_client_auth_san_email: 'email:',
};

/**
 * oidc-provider's `certificateSubjectMatches`: whether the certificate carries the registered
 * subject DN (RFC 4514 string, attribute types without regard to case) or subject alternative
 * name. Only a certificate the proxy verified against its CA gets here (`certificateAuthorized`).
 */
export function certificateSubjectMatches(
  certificate: X509Certificate,
  property: string,
  expected: string,
): boolean {
  if (property === 'tls_client_auth_subject_dn') return sameDn(rfc4514(certificate.subject), expected);
  // Compared as addresses: Node writes IPv6 uncompressed in capitals, RFC 8705 registers RFC 5952.
  if (property === 'tls_client_auth_san_ip') {
    try {
      return certificate.checkIP(expected) !== undefined;
    } catch {
      return false;
    }
  }
  const prefix = SAN_PREFIX[property];
  if (prefix === undefined) return false;
  return sanEntries(certificate.subjectAltName).some(
    (entry) =>
      entry.startsWith(prefix) &&
      (prefix === 'URI:'
        ? entry.slice(prefix.length) === expected
        : entry.slice(prefix.length).toLowerCase() === expected.toLowerCase()),
  );
}

/** Node writes a subject as one `type=value` per line, first RDN first; RFC 4514 writes the last first, comma-separated. */
function rfc4514(subject: string): string {
  return subject.split('\n').reverse().join(',');
}

/** DNs compared as RFC 4514 strings, attribute types case-insensitively, spaces after commas ignored. */
function sameDn(a: string, b: string): boolean {
  const normal = (dn: string) =>
    splitDn(dn).map((rdn) => {
      const at = rdn.indexOf('=');
      return `${rdn.slice(0, at).trim().toUpperCase()}=${rdn.slice(at + 1).trim()}`;
    });
  const [left, right] = [normal(a), normal(b)];
  return left.length === right.length && left.every((rdn, i) => rdn === right[i]);
}

/** A DN's RDNs: commas split them unless escaped (`\,`). */
function splitDn(dn: string): string[] {
  return dn.split(/(?<!\\),/).filter((rdn) => rdn.includes('='));
}

/** Node's `subjectAltName` ("DNS:a, IP Address:1.2.3.4"), entry by entry. */
function sanEntries(san: string | undefined): string[] {
  return san === undefined ? [] : san.split(', ').map((entry) => entry.trim());
}
