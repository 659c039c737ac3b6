/**
 * Forward-auth for API gateways: the NGINX, Traefik and Envoy contracts, path normalization,
 * and the gateways' own credentials (route matching and the decision: src/decide).
 */
export { contractFor, FORWARD_PREFIX, type GatewayContract, type GatewayKind } from './contracts.ts';
export {
  createGatewayInput,
  GATEWAY_KEY_HEADER,
  GatewayCredentials,
  type GatewayView,
  updateGatewayInput,
  type VerifiedGateway,
} from './credentials.ts';
export {
  createForwardAuth,
  type ForwardAuth,
  type ForwardDeps,
  type ForwardReply,
  UPSTREAM_HEADERS,
} from './forward.ts';
export { type NormalizedPath, normalizePath } from './normalize.ts';
export { METHOD_OVERRIDE_HEADERS, methodOverride } from './overrides.ts';
