import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { flag, optionalString, requiredString, stringList } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';

interface GrantView {
  api: string;
  scopes: string[];
  introspect: boolean;
}

interface ClientView {
  client_id: string;
  name: string;
  grant_types: string[];
  token_endpoint_auth_method: string;
  grants: GrantView[];
  roles: string[];
}

/** `aud(scope scope)`, `+introspect` when it may introspect that API's tokens. */
function grantCell(grant: GrantView): string {
  return `${grant.api}(${grant.scopes.join(' ')})${grant.introspect ? '+introspect' : ''}`;
}

const splitScopes = (scope: string | undefined) => (scope ?? '').split(/\s+/).filter(Boolean);

/**
 * `--api` and `--scope` come in pairs, matched in order (issue 9: grants per API). Without any
 * `--scope`, each API is granted with no scopes; a `--scope` without `--api` goes to the server,
 * which accepts only a browser client's OIDC scopes there.
 */
function grantsFrom(values: Parameters<typeof stringList>[0], command: string) {
  const apis = stringList(values, 'api');
  const scopes = stringList(values, 'scope');
  if (apis.length === 0) {
    if (scopes.length > 1) throw usageError('--scope is repeated only in pairs with --api', command);
    return { scope: scopes[0] };
  }
  if (scopes.length > 0 && scopes.length !== apis.length)
    throw usageError(
      `--api and --scope come in pairs, matched in order: got ${apis.length} --api and ${scopes.length} --scope`,
      command,
    );
  return { grants: apis.map((api, i) => ({ api, scopes: splitScopes(scopes[i]) })) };
}

const createClient: Command = {
  path: ['client', 'create'],
  options: {
    name: { type: 'string' },
    grant: { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true },
    public: { type: 'boolean' },
    scope: { type: 'string', multiple: true },
    api: { type: 'string', multiple: true },
    role: { type: 'string', multiple: true },
    'allow-ip': { type: 'string', multiple: true },
    'auth-method': { type: 'string' },
    jwks: { type: 'string' },
    certificate: { type: 'string' },
    'tls-subject-dn': { type: 'string' },
    'tls-san-dns': { type: 'string' },
    'tls-san-uri': { type: 'string' },
    'tls-san-ip': { type: 'string' },
    'tls-san-email': { type: 'string' },
    'bind-certificate': { type: 'boolean' },
    'client-uri': { type: 'string' },
    'initiate-login-uri': { type: 'string' },
  },
  synopsis:
    '--name N --grant client_credentials|authorization_code... [--redirect-uri URI]... [--public] [--api AUDIENCE --scope "a b"]... [--role R]... [--allow-ip CIDR]... [--auth-method M] [--jwks FILE] [--certificate FILE] [--tls-subject-dn DN] [--bind-certificate] [--client-uri URL] [--initiate-login-uri URL]',
  summary: 'register an OAuth client; prints its id and, for a confidential client, its secret (once)',
  details: [
    '--grant            repeat for several grants',
    '--api AUD --scope "a b"   grant these scopes of that API; repeat the pair for several APIs',
    '                   (a browser client may also have --scope "openid profile offline_access" alone)',
    '--auth-method      client_secret_basic (default), client_secret_post, private_key_jwt, or with',
    '                   mutual TLS on, tls_client_auth or self_signed_tls_client_auth (RFC 8705)',
    '--jwks FILE        the public keys (JWKS or one JWK, as JSON) for private_key_jwt',
    '--certificate FILE the self-signed certificate (PEM) of self_signed_tls_client_auth',
    '--tls-subject-dn DN   the certificate subject of tls_client_auth (CN=svc,O=Acme), or instead',
    '                   one of --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email',
    '--bind-certificate its access tokens are bound to its TLS certificate (cnf.x5t#S256)',
    '--allow-ip CIDR    only these addresses may use the credentials (repeatable)',
    '--client-uri URL   its home page (http or https): the sign-in error page links back to it',
    '--initiate-login-uri URL   where a sign-in at the client starts afresh (https); preferred',
    '                   by the error page over --client-uri',
  ],
  async run({ values }, ctx) {
    const command = 'client create';
    const grants = stringList(values, 'grant');
    if (grants.length === 0)
      throw usageError('--grant is required (client_credentials or authorization_code)', command);
    const jwksFile = optionalString(values, 'jwks');
    const certificateFile = optionalString(values, 'certificate');
    if (jwksFile !== undefined && certificateFile !== undefined)
      throw usageError('--jwks and --certificate cannot be combined', command);
    const body = {
      name: requiredString(values, 'name', command),
      grant_types: grants,
      redirect_uris: stringList(values, 'redirect-uri'),
      public: flag(values, 'public'),
      ...grantsFrom(values, command),
      roles: stringList(values, 'role'),
      allowed_ips: stringList(values, 'allow-ip'),
      token_endpoint_auth_method: optionalString(values, 'auth-method'),
      jwks:
        certificateFile !== undefined
          ? await certificateJwks(certificateFile)
          : jwksFile === undefined
            ? undefined
            : await readJwks(jwksFile),
      tls_client_auth_subject_dn: optionalString(values, 'tls-subject-dn'),
      tls_client_auth_san_dns: optionalString(values, 'tls-san-dns'),
      tls_client_auth_san_uri: optionalString(values, 'tls-san-uri'),
      tls_client_auth_san_ip: optionalString(values, 'tls-san-ip'),
      tls_client_auth_san_email: optionalString(values, 'tls-san-email'),
      tls_client_certificate_bound_access_tokens: flag(values, 'bind-certificate') || undefined,
      client_uri: optionalString(values, 'client-uri'),
      initiate_login_uri: optionalString(values, 'initiate-login-uri'),
    };
    const created = (await (await ctx.admin()).request('POST', '/clients', body)) as {
      client_id: string;
      client_secret?: string;
    };
    ctx.out.result(created, () =>
      created.client_secret === undefined
        ? [
            body.public
              ? `Created public client ${created.client_id} (it has no secret).`
              : `Created client ${created.client_id}; it authenticates with ${body.token_endpoint_auth_method}, so it has no secret.`,
          ]
        : [
            `Created client ${created.client_id}.`,
            `client_id:     ${created.client_id}`,
            `client_secret: ${created.client_secret}`,
            'The secret is shown only this once and cannot be retrieved later: store it now.',
          ],
    );
  },
};

/** Reads a JWKS file; a single JWK is wrapped, since that is what people usually have at hand. */
async function readJwks(path: string): Promise<unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw failure(
      `cannot read --jwks ${path}: ${error instanceof SyntaxError ? 'not valid JSON' : (error as Error).message}`,
    );
  }
  return parsed && typeof parsed === 'object' && 'kty' in parsed ? { keys: [parsed] } : parsed;
}

/** A self-signed client certificate as the JWKS that registers it: its public key, with the certificate in x5c. */
async function certificateJwks(path: string): Promise<unknown> {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(path));
  } catch (error) {
    throw failure(`cannot read --certificate ${path}: ${(error as Error).message}`);
  }
  const jwk = certificate.publicKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, x5c: [certificate.raw.toString('base64')] }] };
}

const listClients: Command = {
  path: ['client', 'list'],
  synopsis: '',
  summary: 'list the registered clients',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/clients')) as { clients: ClientView[] };
    ctx.out.result(result, () =>
      table(
        ['CLIENT_ID', 'NAME', 'GRANT_TYPES', 'AUTH', 'APIS', 'ROLES'],
        result.clients.map((c) => [
          c.client_id,
          c.name,
          listCell(c.grant_types),
          c.token_endpoint_auth_method,
          listCell(c.grants.map(grantCell)),
          listCell(c.roles),
        ]),
        'No clients.',
      ),
    );
  },
};

const deleteClient: Command = {
  path: ['client', 'delete'],
  args: ['CLIENT_ID'],
  synopsis: 'CLIENT_ID',
  summary: 'delete a client: it gets no new tokens (issued ones run until they expire)',
  async run({ positionals: [id = ''] }, ctx) {
    await (await ctx.admin()).request('DELETE', `/clients/${encodeURIComponent(id)}`);
    ctx.out.result({ client_id: id, deleted: true }, () => `Deleted client ${id}.`);
  },
};

const grantClient: Command = {
  path: ['client', 'grant'],
  args: ['CLIENT_ID'],
  options: {
    api: { type: 'string' },
    scope: { type: 'string' },
    introspect: { type: 'boolean' },
  },
  synopsis: 'CLIENT_ID --api AUDIENCE [--scope "a b"] [--introspect]',
  summary: "grant a client one API's scopes, replacing those it had of that API",
  details: [
    '--scope        every scope must exist on that API; none grants the audience alone',
    '--introspect   it may also introspect tokens issued for that API (a resource server)',
  ],
  async run({ positionals: [id = ''], values }, ctx) {
    const body = {
      api: requiredString(values, 'api', 'client grant'),
      scopes: splitScopes(optionalString(values, 'scope')),
      introspect: flag(values, 'introspect'),
    };
    const grant = (await (
      await ctx.admin()
    ).request('PUT', `/clients/${encodeURIComponent(id)}/grants`, body)) as GrantView;
    ctx.out.result({ client_id: id, ...grant }, () => `Granted ${id}: ${grantCell(grant)}.`);
  },
};

const ungrantClient: Command = {
  path: ['client', 'ungrant'],
  args: ['CLIENT_ID'],
  options: { api: { type: 'string' } },
  synopsis: 'CLIENT_ID --api AUDIENCE',
  summary: "take one API away from a client: no new tokens for it, and Tollgate's own API refuses it at once",
  async run({ positionals: [id = ''], values }, ctx) {
    const api = requiredString(values, 'api', 'client ungrant');
    await (await ctx.admin()).request(
      'DELETE',
      `/clients/${encodeURIComponent(id)}/grants?${new URLSearchParams({ api })}`,
    );
    ctx.out.result({ client_id: id, api, ungranted: true }, () => `Ungranted ${api} from ${id}.`);
  },
};

export const clientCommands: readonly Command[] = [
  createClient,
  listClients,
  deleteClient,
  grantClient,
  ungrantClient,
];
