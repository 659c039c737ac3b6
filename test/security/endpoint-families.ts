import fc from 'fast-check';
import {
  type FuzzRequest,
  formBody,
  jsonBody,
  mutatedHeaders,
  nastySegment,
  query,
  request,
} from '../helpers/malformed-requests.ts';

/** What a valid request of each family needs; tokens are re-minted while a long run goes on. */
export interface Fixtures {
  api: string;
  redirect: string;
  web: { client_id: string; client_secret: string };
  machine: { client_id: string; client_secret: string };
  tokens: { admin: string; decide: string; machine: string };
  interaction: { uid: string; cookie: string; csrf: string };
  gatewayKey: string;
}

const basic = (c: { client_id: string; client_secret: string }) =>
  `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;
const noQuery = fc.constant('');
const path = (p: string) => fc.constant(p);
/** A valid path segment most of the time, a nasty one otherwise. */
const segment = (valid: string) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(valid) }, { weight: 2, arbitrary: nastySegment });

/**
 * Every public endpoint family with valid credentials (so the handlers behind authentication
 * run), each as an arbitrary of malformed requests. `fx` is read when a request is generated.
 */
export function endpointFamilies(fx: Fixtures): Record<string, fc.Arbitrary<FuzzRequest>> {
  const bearer = (token: () => string) =>
    fc.constant(0).chain(() => mutatedHeaders([['authorization', `Bearer ${token()}`]]));
  const authorize = {
    client_id: fx.web.client_id,
    response_type: 'code',
    redirect_uri: fx.redirect,
    scope: 'openid read',
    state: 's1',
    nonce: 'n1',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    resource: fx.api,
  };
  const tokenForms: Record<string, string>[] = [
    { grant_type: 'client_credentials', scope: 'read', resource: fx.api },
    {
      grant_type: 'authorization_code',
      code: 'x'.repeat(43),
      redirect_uri: fx.redirect,
      code_verifier: 'v'.repeat(43),
    },
    { grant_type: 'refresh_token', refresh_token: 'r'.repeat(43) },
    {
      grant_type: 'client_credentials',
      client_id: fx.machine.client_id,
      client_secret: fx.machine.client_secret,
    },
  ];
  const decideBody = {
    subject: { id: 'u1', roles: ['customer'], attrs: { tenant: 'acme' } },
    action: 'read',
    resource: { type: 'Invoice', id: 'inv_1', attrs: { ownerId: 'u1', tenant: 'acme' } },
    context: { ip: '10.0.0.7' },
  };
  const adminBodies: Record<string, Record<string, unknown>> = {
    '/admin/clients': { name: 'fuzz', grant_types: ['client_credentials'], scope: 'read', api: fx.api },
    '/admin/users': {
      username: 'fuzz',
      password: 'fuzz password 1',
      roles: ['customer'],
      attrs: { tenant: 'acme' },
    },
    '/admin/apis': { audience: 'https://fuzz.example.test', scopes: ['read'], alg: 'RS256', ttl: 300 },
    '/admin/gateways': { name: 'fuzz', apis: [fx.api] },
    '/admin/policies': { files: [{ name: 'fuzz.yaml', content: 'resource: Fuzz\nrules: []\n' }] },
    '/admin/audit/checkpoints': {
      checkpoints: [
        { seq: 1, hash: 'a'.repeat(64), at: '2026-11-30T00:00:00Z', kid: 'fuzz', mac: 'b'.repeat(64) },
      ],
    },
  };
  const forwardHeaders = (): [string, string][] => [
    ['x-tollgate-gateway-key', fx.gatewayKey],
    ['authorization', `Bearer ${fx.tokens.machine}`],
    ['x-original-method', 'GET'],
    ['x-original-uri', '/invoices/1'],
    ['x-forwarded-method', 'GET'],
    ['x-forwarded-uri', '/invoices/1'],
    ['x-forwarded-host', 'api.example.test'],
  ];
  const forward = (kind: 'nginx' | 'traefik' | 'envoy') => {
    const tail = kind === 'envoy' ? segment('invoices').map((s) => `/${s}/1`) : fc.constant('');
    const headers = fc.constant(0).chain(() => mutatedHeaders(forwardHeaders()));
    return request(
      'forward',
      ['GET'],
      tail.map((t) => `/decide/forward/${kind}${t}`),
      noQuery,
      headers,
    );
  };

  return {
    discovery: request(
      'discovery',
      ['GET'],
      fc.constantFrom('/.well-known/openid-configuration', '/jwks', '/openapi.yaml'),
      query({ x: '1' }),
      mutatedHeaders([['accept', 'application/json']]),
    ),
    auth: fc.oneof(
      request('auth', ['GET'], path('/auth'), query(authorize), mutatedHeaders([['accept', 'text/html']])),
      request('auth', ['POST'], path('/auth'), noQuery, mutatedHeaders([]), formBody(authorize)),
    ),
    interaction: fc.oneof(
      request(
        'interaction',
        ['GET'],
        segment(fx.interaction.uid).map((s) => `/interaction/${s}`),
        noQuery,
        fc.constant(0).chain(() => mutatedHeaders([['cookie', fx.interaction.cookie]])),
      ),
      request(
        'interaction',
        ['POST'],
        fc
          .tuple(segment(fx.interaction.uid), fc.constantFrom('login', 'confirm', 'abort', 'switch'))
          .map(([s, a]) => `/interaction/${s}/${a}`),
        noQuery,
        fc.constant(0).chain(() => mutatedHeaders([['cookie', fx.interaction.cookie]])),
        formBody({ csrf: fx.interaction.csrf, username: 'bob', password: 'wrong password' }),
      ),
    ),
    token: fc
      .constantFrom(...tokenForms)
      .chain((form) =>
        request(
          'token',
          ['POST'],
          path('/token'),
          noQuery,
          mutatedHeaders(form.client_id ? [] : [['authorization', basic(fx.machine)]]),
          formBody(form),
        ),
      ),
    introspection: fc
      .constant(0)
      .chain(() =>
        request(
          'introspection',
          ['POST'],
          path('/token/introspection'),
          noQuery,
          mutatedHeaders([['authorization', basic(fx.machine)]]),
          formBody({ token: fx.tokens.machine, token_type_hint: 'access_token' }),
        ),
      ),
    revocation: fc
      .constant(0)
      .chain(() =>
        request(
          'revocation',
          ['POST'],
          path('/token/revocation'),
          noQuery,
          mutatedHeaders([['authorization', basic(fx.machine)]]),
          formBody({ token: 'not-a-live-token', token_type_hint: 'refresh_token' }),
        ),
      ),
    userinfo: request(
      'userinfo',
      ['GET', 'POST'],
      path('/me'),
      query({ x: '1' }),
      bearer(() => fx.tokens.machine),
    ),
    'session-end': fc.oneof(
      request(
        'session-end',
        ['GET'],
        path('/session/end'),
        query({
          id_token_hint: 'a.b.c',
          client_id: fx.web.client_id,
          post_logout_redirect_uri: fx.redirect,
          state: 's',
        }),
        mutatedHeaders([]),
      ),
      request(
        'session-end',
        ['POST'],
        fc.constantFrom('/session/end', '/session/end/confirm'),
        noQuery,
        mutatedHeaders([]),
        formBody({ client_id: fx.web.client_id, xsrf: 'x', logout: 'yes' }),
      ),
    ),
    decide: fc.oneof(
      // Exactly `POST /decide` takes the fast path; a query string or /plan goes through Koa.
      request(
        'decide',
        ['POST'],
        fc.constantFrom('/decide', '/decide', '/decide/plan'),
        fc.constantFrom('', '', 'x=1'),
        bearer(() => fx.tokens.decide),
        jsonBody(decideBody),
      ),
    ),
    forward: fc.oneof(forward('nginx'), forward('traefik'), forward('envoy')),
    admin: fc.oneof(
      request(
        'admin',
        ['GET'],
        fc.constantFrom(
          '/admin/clients',
          '/admin/users',
          '/admin/apis',
          '/admin/gateways',
          '/admin/keys',
          '/admin/policies',
          '/admin/audit',
          '/admin/audit/verify',
          '/admin/audit/export',
        ),
        query({
          expect_head: `1:${'c'.repeat(64)}`,
          subject: 'usr_1',
          type: 'login.failed',
          since: '2026-01-01T00:00:00Z',
          until: '2030-01-01T00:00:00Z',
          limit: '10',
          after: '0',
        }),
        bearer(() => fx.tokens.admin),
      ),
      fc.constantFrom(...Object.keys(adminBodies)).chain((p) =>
        request(
          'admin',
          ['POST'],
          path(p),
          noQuery,
          bearer(() => fx.tokens.admin),
          jsonBody(adminBodies[p] ?? {}),
        ),
      ),
      request(
        'admin',
        ['DELETE'],
        fc
          .tuple(fc.constantFrom('clients', 'users', 'gateways'), segment('no_such_thing'))
          .map(([k, s]) => `/admin/${k}/${s}`),
        noQuery,
        bearer(() => fx.tokens.admin),
      ),
    ),
    metrics: request(
      'metrics',
      ['GET'],
      path('/metrics'),
      query({ name: 'x' }),
      bearer(() => fx.tokens.admin),
    ),
    health: request(
      'health',
      ['GET'],
      fc.constantFrom('/healthz', '/readyz'),
      query({ x: '1' }),
      mutatedHeaders([]),
    ),
  };
}
