export {
  AccessTokenVerifier,
  type InvalidTokenDetail,
  type VerificationResult,
  type VerifiedAccessToken,
} from './access-token-verifier.ts';
export type { FormRequest } from './basic-client.ts';
export { type ClientAuthGuardOptions, clientAuthGuard } from './client-auth-guard.ts';
export { type ClientGrant, ClientGrants } from './client-grants.ts';
export type { ApiDirectory } from './directories.ts';
export {
  createDpopVerifier,
  DPOP_ALGORITHMS,
  DPOP_WINDOW_SECONDS,
  type DpopRequest,
  type DpopVerifier,
} from './dpop.ts';
export { type InteractionDeps, interactionRoutes } from './interactions.ts';
export { LoginGuard, type LoginGuardOptions } from './login-guard.ts';
export {
  type ClientCertificates,
  certificateThumbprint,
  clientCertificates,
  type MtlsSettings,
  parseCertificate,
} from './mtls.ts';
export { cookieKeys, DEFAULT_ACCESS_TOKEN_TTL } from './provider.ts';
export { RevocationList } from './revocation-list.ts';
export { OidcService, purgeExpired } from './service.ts';
export {
  createSubjectResolver,
  type ResolvedSubject,
  type ResolveOptions,
  type SubjectResolution,
} from './subjects.ts';
export { createTokenRateLimit } from './token-rate-limit.ts';
export { type TokenSubject, UserDirectory } from './user-directory.ts';
export {
  type Branding,
  createPages,
  DEFAULT_BRANDING,
  escapeHtml,
  type Pages,
} from './views.ts';
