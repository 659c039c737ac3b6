import type Provider from 'oidc-provider';
import type { AuditSink } from '../audit/index.ts';
import { recordTokenIssued } from './audit-events.ts';
import { type BasicClientDeps, clientFromBasic, type FormRequest } from './basic-client.ts';
import { type GrantRequest, type GrantRules, OIDC_SCOPES } from './resource-grants.ts';

export interface ClientCredentialsDeps extends BasicClientDeps {
  /** The current oidc-provider instance (rebuilt when the key ring changes). */
  provider: () => Provider;
  /** The resource and scope rules oidc-provider's hooks apply (resource-grants.ts). */
  rules: GrantRules;
  /** Seconds the client must wait for its token rate limit (token-rate-limit.ts). */
  tokenWait(clientId: string): Promise<number>;
  /** Spends one request of the client's token rate limit. */
  charge(clientId: string): Promise<void>;
  audit: AuditSink;
}

/** The token response, as oidc-provider's buildTokenResponse orders it. */
interface TokenResponse {
  access_token: string;
  expires_in: number;
  scope?: string;
  token_type: string;
}

/** RFC 6749 §3.3 scope tokens (NQCHAR), one space apart. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/**
 * The commonest token request, client credentials with the secret in HTTP Basic, answered
 * before Koa and oidc-provider's token pipeline (issue 14): they cost more than the token
 * itself. The token is still oidc-provider's: its ClientCredentials model makes and signs it
 * with the provider's keys, TTL and extra claims (`roles`), exactly as its client_credentials
 * grant does. What leads up to it runs the same rules as that grant's path: the client checks
 * of basic-client.ts, oidc-provider's own client (grant types, binding), the token rate limit,
 * and the resource and scope rules of resource-grants.ts. The answer is recorded (`token.issued`)
 * and charged to the client's rate limit as oidc-provider's are.
 *
 * Anything else resolves to undefined before anything is recorded or charged, and the request
 * takes the full path unchanged, which answers or refuses it: another parameter or a repeated
 * one, an OIDC scope, DPoP or certificate-bound tokens, any refusal of the rules, a client over
 * its limit, a lookup or signature that failed.
 */
export function createClientCredentials(deps: ClientCredentialsDeps) {
  return async function issueClientCredentials(request: FormRequest): Promise<TokenResponse | undefined> {
    const asked = plainRequest(request.form);
    if (!asked) return undefined;
    const basic = await clientFromBasic(deps, request);
    if (!basic) return undefined;
    const provider = deps.provider();
    const client = await provider.Client.find(basic.clientId);
    if (
      !client ||
      client.clientAuthMethod !== basic.method ||
      !client.grantTypeAllowed('client_credentials') ||
      client.tlsClientCertificateBoundAccessTokens === true ||
      client.dpopBoundAccessTokens === true
    )
      return undefined;
    if ((await deps.tokenWait(basic.clientId)) > 0) return undefined;

    const grantRequest: GrantRequest = {
      clientId: basic.clientId,
      clientCredentials: true,
      atTokenEndpoint: true,
      dpop: false,
      certificateBound: false,
      scopes: asked.scopes,
    };
    const indicator = asked.resource ?? (await deps.rules.chooseResource(grantRequest));
    if (indicator === undefined || !isResourceIndicator(indicator)) return undefined;
    const info = await deps.rules.resourceServerInfo(grantRequest, indicator);

    // As oidc-provider's client_credentials handler builds the token from the same values.
    const token = new provider.ClientCredentials({ client, scope: asked.scopes.join(' ') || undefined });
    const resourceServer = new provider.ResourceServer(indicator, info);
    token.resourceServer = resourceServer;
    const served = resourceServer.scopes;
    token.scope = asked.scopes.filter((scope) => served.has(scope)).join(' ') || undefined;
    const answer: TokenResponse = {
      access_token: await token.save(),
      expires_in: token.expiration,
      scope: token.scope || undefined,
      token_type: token.tokenType,
    };

    recordTokenIssued(deps.audit, {
      clientId: basic.clientId,
      ip: request.ip,
      grantType: 'client_credentials',
      body: answer,
    });
    await deps.charge(basic.clientId);
    return answer;
  };
}

/**
 * `grant_type=client_credentials`, at most one `scope` of API scopes (oidc-provider's own
 * OIDC scopes are checked against the client's `scope` there) and at most one `resource`;
 * nothing else, each once.
 */
function plainRequest(form: FormRequest['form']): { scopes: string[]; resource?: string } | undefined {
  for (const name in form) {
    if (name !== 'grant_type' && name !== 'scope' && name !== 'resource') return undefined;
    if (typeof form[name] !== 'string' || form[name] === '') return undefined;
  }
  if (form.grant_type !== 'client_credentials') return undefined;
  const scope = form.scope as string | undefined;
  if (scope !== undefined && !SCOPE.test(scope)) return undefined;
  const scopes = scope === undefined ? [] : [...new Set(scope.split(' '))];
  if (scopes.some((s) => OIDC_SCOPES.includes(s))) return undefined;
  return { scopes, resource: form.resource as string | undefined };
}

/** An absolute URI without a fragment, as oidc-provider requires of a resource indicator. */
function isResourceIndicator(value: string): boolean {
  const href = URL.parse(value)?.href;
  return href !== undefined && !href.includes('#');
}
