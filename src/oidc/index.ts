export {
  AccessTokenVerifier,
  type InvalidTokenDetail,
  type VerificationResult,
  type VerifiedAccessToken,
} from './access-token-verifier.ts';
export { interactionRoutes } from './interactions.ts';
export { cookieKeys, DEFAULT_ACCESS_TOKEN_TTL } from './provider.ts';
export { RevocationList } from './revocation-list.ts';
export { OidcService, purgeExpired } from './service.ts';
export { escapeHtml, STYLESHEET } from './views.ts';
