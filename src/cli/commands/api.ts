import type { ApiView } from '../../admin/index.ts';
import { optionalString, requiredString, stringList } from '../args.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';

/**
 * `--scope` values: `"read write"` names scopes; `"invoices:read=Read your invoices"` is one
 * scope with its description (everything after the first `=`, spaces included), shown on the
 * consent page. Repeat `--scope` for several described scopes.
 */
export function parseScopes(values: string[]): { scopes: string[]; descriptions: Record<string, string> } {
  const scopes: string[] = [];
  const descriptions: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === -1) {
      scopes.push(...value.split(/\s+/).filter(Boolean));
      continue;
    }
    const name = value.slice(0, eq).trim();
    scopes.push(name);
    descriptions[name] = value.slice(eq + 1).trim();
  }
  return { scopes, descriptions };
}

/** What `api create` says of a required binding. */
const BINDINGS: Readonly<Record<string, string>> = {
  dpop: '; DPoP-bound tokens only',
  mtls: '; certificate-bound tokens only',
};

const createApi: Command = {
  path: ['api', 'create'],
  options: {
    audience: { type: 'string' },
    scope: { type: 'string', multiple: true },
    alg: { type: 'string' },
    ttl: { type: 'string' },
    name: { type: 'string' },
    'require-binding': { type: 'string' },
  },
  synopsis:
    '--audience URI --scope "a b" [--scope "c=Description"]… [--alg RS256|ES256] [--ttl SECONDS] [--name N] [--require-binding dpop|mtls|none]',
  summary: 'register an API (resource server): the audience of its tokens and the scopes it knows',
  details: [
    '--scope            scope names ("read write"), or one scope with what it lets a client do,',
    '                   shown on the consent page ("invoices:read=Read your invoices"); repeatable',
    '--ttl              access token lifetime in seconds (server default 300, at most 3600)',
    "--require-binding  dpop: tokens for it are issued and accepted only bound to the client's key",
    '                   (RFC 9449), so a stolen token is useless without that key; mtls: only bound',
    "                   to the client's TLS certificate (RFC 8705)",
  ],
  async run({ values }, ctx) {
    const command = 'api create';
    const ttl = optionalString(values, 'ttl');
    // Only the shape is checked here; the range is the server's to judge (and to name).
    if (ttl !== undefined && !/^\d+$/.test(ttl))
      throw usageError('--ttl must be a whole number of seconds', command);
    const audience = requiredString(values, 'audience', command);
    const given = stringList(values, 'scope');
    if (given.length === 0) throw usageError('--scope is required', command);
    const { scopes, descriptions } = parseScopes(given);
    const body = {
      audience,
      scopes,
      ...(Object.keys(descriptions).length > 0 ? { scope_descriptions: descriptions } : {}),
      alg: optionalString(values, 'alg'),
      ttl: ttl === undefined ? undefined : Number(ttl),
      name: optionalString(values, 'name'),
      require_binding: optionalString(values, 'require-binding'),
    };
    const created = (await (await ctx.admin()).request('POST', '/apis', body)) as ApiView;
    ctx.out.result(
      created,
      () =>
        `Created API ${created.audience} (scopes: ${created.scopes.join(' ')}; ${created.alg}; tokens live ${created.ttl} s${BINDINGS[created.require_binding] ?? ''}).`,
    );
  },
};

const listApis: Command = {
  path: ['api', 'list'],
  synopsis: '',
  summary: 'list the APIs, with the description of each scope that has one',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/apis')) as { apis: ApiView[] };
    ctx.out.result(result, () => {
      const [header = '', ...rows] = table(
        ['AUDIENCE', 'NAME', 'SCOPES', 'ALG', 'TTL', 'BINDING', 'BUILTIN'],
        result.apis.map((a) => [
          a.audience,
          a.name,
          listCell(a.scopes),
          a.alg,
          String(a.ttl),
          a.require_binding,
          a.builtin ? 'yes' : 'no',
        ]),
        'No APIs.',
      );
      if (result.apis.length === 0) return [header];
      // Descriptions hold spaces and can be long: as a column they would break the table's
      // alignment, so each goes on its own indented line under its API's row.
      return [header, ...result.apis.flatMap((api, i) => [rows[i] ?? '', ...describedScopes(api)])];
    });
  },
};

/** An indented `scope  description` line for each of the API's scopes that has a description, in scope order. */
function describedScopes(api: ApiView): string[] {
  const described = api.scopes.flatMap((scope) => {
    const description = api.scope_descriptions[scope];
    return description ? [[scope, description] as const] : [];
  });
  const width = Math.max(0, ...described.map(([scope]) => scope.length));
  return described.map(([scope, description]) => `    ${scope.padEnd(width)}  ${description}`);
}

export const apiCommands: readonly Command[] = [createApi, listApis];
