import { randomUUID, type X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { redactTarget } from '../common/index.ts';
import type { DecisionEngine } from '../decide/index.ts';
import { DPOP_ALGORITHMS, type DpopRequest, parseCertificate } from '../oidc/index.ts';
import type { Subject } from '../pdp/index.ts';
import type { GatewayContract, OriginalRequest } from './contracts.ts';
import { GATEWAY_KEY_HEADER, type GatewayCredentials } from './credentials.ts';
import { normalizePath } from './normalize.ts';
import { methodOverride } from './overrides.ts';

export type SubjectLookup = { ok: true; subject: Subject } | { ok: false; detail: string };

export interface ForwardDeps {
  /** Who the calling gateway is, from its key (in memory, kept in step with the database). */
  gateways: Pick<GatewayCredentials, 'verify'>;
  /** `audiences`: the token's `aud` must be one of them (the gateway's APIs). */
  resolveSubject: (
    token: string,
    options: {
      audiences: readonly string[];
      dpop: DpopRequest | undefined;
      certificate: X509Certificate | undefined;
    },
  ) => Promise<SubjectLookup>;
  /**
   * The header in which the gateway, which terminated TLS, passes the client's certificate
   * (MTLS_CERTIFICATE_HEADER); a certificate-bound token needs it. Undefined: mutual TLS is off.
   */
  certificateHeader: string | undefined;
  /** Matches the request to a policy route and decides it (timed, counted, logged). */
  engine: Pick<DecisionEngine, 'decideRoute' | 'relief'>;
  /** Throws a too_many_requests TollgateError when the gateway is over its limit. */
  limitCaller: (callerId: string) => Promise<void>;
}

export interface ForwardReply {
  status: number;
  headers: Record<string, string>;
  /** Undefined for gateways that want no body (NGINX). */
  body: Record<string, unknown> | undefined;
  /** What the access log line records about the decision. */
  log: Record<string, unknown>;
}

/** Response headers an allowed request carries to the upstream (the gateway copies them). */
export const UPSTREAM_HEADERS = {
  subject: 'X-Tollgate-Subject',
  roles: 'X-Tollgate-Roles',
  client: 'X-Tollgate-Client',
  decisionId: 'X-Tollgate-Decision-Id',
} as const;

/** `Bearer <token>` or, for a DPoP-bound token, `DPoP <token>` (RFC 9449 §7.1). */
const AUTHORIZATION = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i;

/**
 * Forward-auth: answers a gateway whether the request it holds may pass. In order, so that
 * nothing is decided for a party we do not know: the gateway's own credential (401), the
 * original request as the gateway reports it, normalized and without a method override (400, or
 * 403 for NGINX), the end user's bearer token for one of the gateway's APIs (401 with a Bearer
 * challenge), the policies' route for the normalized path (403 when none: default deny), then
 * the decision (200 or 403). Targets are logged with their query values redacted.
 */
export function createForwardAuth(deps: ForwardDeps) {
  return async function forward(
    contract: GatewayContract,
    request: { method: string; url: string; headers: IncomingHttpHeaders },
  ): Promise<ForwardReply> {
    const decisionId = randomUUID();
    const reply = (
      status: number,
      error: string,
      description: string,
      log: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ): ForwardReply => ({
      status,
      headers: { [UPSTREAM_HEADERS.decisionId]: decisionId, ...headers },
      body: contract.emptyBody ? undefined : { error, error_description: description },
      // The log has what NGINX's empty answers leave out.
      log: { gateway: contract.kind, decisionId, error, description, ...log },
    });

    const gateway = deps.gateways.verify(single(request.headers[GATEWAY_KEY_HEADER]));
    if (!gateway) {
      return reply(
        401,
        'invalid_client',
        `${GATEWAY_KEY_HEADER}: missing or unknown gateway credential`,
        {},
        {
          'WWW-Authenticate': 'Tollgate-Gateway-Key realm="tollgate"',
        },
      );
    }
    await deps.limitCaller(`gateway:${gateway.name}`);
    const logged = { gatewayName: gateway.name };

    const original = contract.original(request.method, request.url, request.headers);
    if (typeof original === 'string')
      return reply(contract.refuseStatus, 'invalid_request', original, logged);
    const normalized = normalizePath(original.target);
    if (!normalized.ok) {
      return reply(contract.refuseStatus, 'invalid_request', `path: ${normalized.problem}`, {
        ...logged,
        target: redactTarget(original.target),
      });
    }
    const override = methodOverride(request.headers, original.target);
    if (override !== undefined) {
      return reply(contract.refuseStatus, 'invalid_request', override, {
        ...logged,
        method: original.method,
        target: redactTarget(original.target),
      });
    }
    const requested = { ...logged, method: original.method, path: normalized.path };

    const credentials = AUTHORIZATION.exec(single(request.headers.authorization) ?? '');
    const token = credentials?.[2];
    if (token === undefined) {
      return reply(401, 'invalid_token', 'a Bearer access token is required', requested, {
        'WWW-Authenticate': 'Bearer realm="tollgate"',
      });
    }
    // RFC 9449 §7.1: a token refused for want of a valid proof is challenged with the DPoP
    // scheme, so the client knows to prove its key.
    const challenge = (detail: string) => ({
      'WWW-Authenticate': `${detail === 'dpop' ? `DPoP algs="${DPOP_ALGORITHMS.join(' ')}",` : 'Bearer'} realm="tollgate", error="invalid_token", error_description="${detail}"`,
    });
    if (gateway.audiences.length === 0) {
      // Created before gateways named their APIs (migration 0007): refuses until configured.
      return reply(
        401,
        'invalid_token',
        `gateway ${gateway.name} protects no API yet: every token is refused until \`tollgate gateway update ${gateway.name} --api AUDIENCE\``,
        { ...requested, detail: 'audience' },
        challenge('audience'),
      );
    }
    const dpop =
      credentials?.[1]?.toLowerCase() === 'dpop' ? dpopRequest(original, request.headers) : undefined;
    // Believed only from a gateway known by its key that said it terminates mutual TLS and sets
    // the header itself: from any other, the header is what its client wrote (createGatewayInput).
    const certificate =
      deps.certificateHeader === undefined || !gateway.clientCertificates
        ? undefined
        : parseCertificate(single(request.headers[deps.certificateHeader]));
    const resolved = await deps.resolveSubject(token, { audiences: gateway.audiences, dpop, certificate });
    if (!resolved.ok) {
      return reply(
        401,
        'invalid_token',
        `the access token is invalid (${resolved.detail})`,
        { ...requested, detail: resolved.detail },
        challenge(resolved.detail),
      );
    }

    const subject = resolved.subject;
    const context: Record<string, unknown> = { method: original.method, path: normalized.path };
    if (original.host !== undefined) context.host = original.host;
    const outcome = deps.engine.decideRoute({
      method: original.method,
      segments: normalized.segments,
      subject,
      context,
      caller: `gateway:${gateway.name}`,
    });
    if (!outcome.route) {
      return reply(
        403,
        'access_denied',
        `no route of the policies matches ${original.method} ${normalized.path}`,
        {
          ...requested,
          subject: subject.id,
          allow: false,
          reason: 'no_matching_route',
        },
      );
    }
    const { route, decision } = outcome;
    // The decision is logged: while the log's writer is behind, the answer waits for it.
    const waiting = deps.engine.relief();
    if (waiting) await waiting;
    const decided = {
      ...requested,
      subject: subject.id,
      route: `${route.route.method} ${route.route.path}`,
      allow: decision.allow,
      rule: decision.rule,
      policyVersion: decision.policy.version,
    };
    if (!decision.allow) return reply(403, 'access_denied', decision.reason, decided);
    return {
      status: 200,
      headers: {
        [UPSTREAM_HEADERS.subject]: headerValue(subject.id),
        [UPSTREAM_HEADERS.roles]: subject.roles.map(headerValue).join(','),
        [UPSTREAM_HEADERS.client]: headerValue(String(subject.attrs.client_id ?? '')),
        [UPSTREAM_HEADERS.decisionId]: decisionId,
      },
      body: contract.emptyBody
        ? undefined
        : { allow: true, reason: decision.reason, rule: decision.rule, policy: decision.policy },
      log: { gateway: contract.kind, decisionId, ...decided },
    };
  };
}

export type ForwardAuth = ReturnType<typeof createForwardAuth>;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Header-safe form of a claim: printable ASCII as is, anything else percent-encoded. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/**
 * The request a DPoP proof sent through the gateway must be for: the original method, and the
 * original URL rebuilt from the host the gateway reports (its contract's host header, else
 * `X-Forwarded-Host`) and `X-Forwarded-Proto` (default https). No proof, or no host to rebuild
 * the URL from: undefined, and a bound token is then refused (`detail: dpop`).
 */
function dpopRequest(original: OriginalRequest, headers: IncomingHttpHeaders): DpopRequest | undefined {
  const proof = single(headers.dpop);
  const host = original.host ?? single(headers['x-forwarded-host']);
  if (!proof || !host) return undefined;
  const proto = single(headers['x-forwarded-proto']) === 'http' ? 'http' : 'https';
  const query = original.target.indexOf('?');
  const path = query === -1 ? original.target : original.target.slice(0, query);
  return { proof, method: original.method, url: `${proto}://${host}${path}` };
}
