import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import {
  type ClientGrants,
  type clientAuthGuard,
  clientCertificates,
  type createTokenRateLimit,
  OidcService,
  type Pages,
  type RevocationList,
  type UserDirectory,
} from '../oidc/index.ts';

/** Secrets for cookies and CSRF tokens: HMACs of the key-encryption key, one per purpose. */
export function deriveSecrets(kek: Buffer): { cookieSecret: Buffer; csrfSecret: Buffer } {
  const derive = (purpose: string) => createHmac('sha256', kek).update(`tollgate:${purpose}`).digest();
  return { cookieSecret: derive('cookies'), csrfSecret: derive('csrf') };
}

export interface OidcParts {
  db: DatabaseHandle;
  ring: SigningKeyRing;
  cookieSecret: Buffer;
  revocations: RevocationList;
  userDirectory: UserDirectory;
  grants: ClientGrants;
  audit: AuditSink;
  clientGuard: ReturnType<typeof clientAuthGuard>;
  tokenLimit: ReturnType<typeof createTokenRateLimit>;
  pages: Pages;
}

/** The token service; the guards stay across provider rebuilds (key rotation). */
export function createOidc(
  parts: OidcParts,
  config: Pick<Config, 'issuer' | 'mtls' | 'trustedProxies'>,
  logger: Logger,
): OidcService {
  const { clientGuard, tokenLimit } = parts;
  return new OidcService({
    issuer: config.issuer,
    db: parts.db,
    ring: parts.ring,
    cookieSecret: parts.cookieSecret,
    revocations: parts.revocations,
    users: parts.userDirectory,
    grants: parts.grants,
    guards: [clientGuard.middleware, tokenLimit.middleware],
    onClientUse: async (clientId) => {
      await clientGuard.checkClient(clientId);
      await tokenLimit.check(clientId);
    },
    authWait: clientGuard.wait,
    tokenLimit,
    onProviderEvent: (event, detail) => logger.warn(detail, `oidc ${event}`),
    audit: parts.audit,
    pages: parts.pages,
    certificates: clientCertificates({ ...config.mtls, trustedProxies: config.trustedProxies }),
  });
}
