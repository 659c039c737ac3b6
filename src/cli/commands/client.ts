import { readFile } from 'node:fs/promises';
import { flag, optionalString, requiredString, stringList } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';

interface ClientView {
  client_id: string;
  name: string;
  grant_types: string[];
  token_endpoint_auth_method: string;
  api: string | null;
  roles: string[];
}

const createClient: Command = {
  path: ['client', 'create'],
  options: {
    name: { type: 'string' },
    grant: { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true },
    public: { type: 'boolean' },
    scope: { type: 'string' },
    api: { type: 'string' },
    role: { type: 'string', multiple: true },
    'allow-ip': { type: 'string', multiple: true },
    'auth-method': { type: 'string' },
    jwks: { type: 'string' },
  },
  synopsis:
    '--name N --grant client_credentials|authorization_code... [--redirect-uri URI]... [--public] [--scope "a b"] [--api AUDIENCE] [--role R]... [--allow-ip CIDR]... [--auth-method M] [--jwks FILE]',
  summary: 'register an OAuth client; prints its id and, for a confidential client, its secret (once)',
  details: [
    '--grant            repeat for several grants',
    '--api              the API (audience) its tokens are for when the request names none',
    '--auth-method      client_secret_basic (default), client_secret_post or private_key_jwt',
    '--jwks FILE        the public keys (JWKS or one JWK, as JSON) for private_key_jwt',
    '--allow-ip CIDR    only these addresses may use the credentials (repeatable)',
  ],
  async run({ values }, ctx) {
    const command = 'client create';
    const grants = stringList(values, 'grant');
    if (grants.length === 0)
      throw usageError('--grant is required (client_credentials or authorization_code)', command);
    const jwksFile = optionalString(values, 'jwks');
    const body = {
      name: requiredString(values, 'name', command),
      grant_types: grants,
      redirect_uris: stringList(values, 'redirect-uri'),
      public: flag(values, 'public'),
      scope: optionalString(values, 'scope'),
      api: optionalString(values, 'api'),
      roles: stringList(values, 'role'),
      allowed_ips: stringList(values, 'allow-ip'),
      token_endpoint_auth_method: optionalString(values, 'auth-method'),
      jwks: jwksFile === undefined ? undefined : await readJwks(jwksFile),
    };
    const created = (await (await ctx.admin()).request('POST', '/clients', body)) as {
      client_id: string;
      client_secret?: string;
    };
    ctx.out.result(created, () =>
      created.client_secret === undefined
        ? [`Created public client ${created.client_id} (it has no secret).`]
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

const listClients: Command = {
  path: ['client', 'list'],
  synopsis: '',
  summary: 'list the registered clients',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/clients')) as { clients: ClientView[] };
    ctx.out.result(result, () =>
      table(
        ['CLIENT_ID', 'NAME', 'GRANTS', 'AUTH', 'API', 'ROLES'],
        result.clients.map((c) => [
          c.client_id,
          c.name,
          listCell(c.grant_types),
          c.token_endpoint_auth_method,
          c.api ?? '-',
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

export const clientCommands: readonly Command[] = [createClient, listClients, deleteClient];
