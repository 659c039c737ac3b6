import type { ApiView } from '../../admin/index.ts';
import { optionalString, requiredString } from '../args.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';

const createApi: Command = {
  path: ['api', 'create'],
  options: {
    audience: { type: 'string' },
    scope: { type: 'string' },
    alg: { type: 'string' },
    ttl: { type: 'string' },
    name: { type: 'string' },
  },
  synopsis: '--audience URI --scope "a b" [--alg RS256|ES256] [--ttl SECONDS] [--name N]',
  summary: 'register an API (resource server): the audience of its tokens and the scopes it knows',
  details: ['--ttl              access token lifetime in seconds (server default 300, at most 3600)'],
  async run({ values }, ctx) {
    const command = 'api create';
    const ttl = optionalString(values, 'ttl');
    // Only the shape is checked here; the range is the server's to judge (and to name).
    if (ttl !== undefined && !/^\d+$/.test(ttl))
      throw usageError('--ttl must be a whole number of seconds', command);
    const body = {
      audience: requiredString(values, 'audience', command),
      scopes: requiredString(values, 'scope', command).split(/\s+/).filter(Boolean),
      alg: optionalString(values, 'alg'),
      ttl: ttl === undefined ? undefined : Number(ttl),
      name: optionalString(values, 'name'),
    };
    const created = (await (await ctx.admin()).request('POST', '/apis', body)) as ApiView;
    ctx.out.result(
      created,
      () =>
        `Created API ${created.audience} (scopes: ${created.scopes.join(' ')}; ${created.alg}; tokens live ${created.ttl} s).`,
    );
  },
};

const listApis: Command = {
  path: ['api', 'list'],
  synopsis: '',
  summary: 'list the APIs',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/apis')) as { apis: ApiView[] };
    ctx.out.result(result, () =>
      table(
        ['AUDIENCE', 'NAME', 'SCOPES', 'ALG', 'TTL', 'BUILTIN'],
        result.apis.map((a) => [
          a.audience,
          a.name,
          listCell(a.scopes),
          a.alg,
          String(a.ttl),
          a.builtin ? 'yes' : 'no',
        ]),
        'No APIs.',
      ),
    );
  },
};

export const apiCommands: readonly Command[] = [createApi, listApis];
