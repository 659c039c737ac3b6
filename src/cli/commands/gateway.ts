import type { GatewayView } from '../../gateway/index.ts';
import { flag, requiredString, stringList } from '../args.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';

/** The repeatable --api option: at least one API (audience) the gateway protects. */
function apis(values: Parameters<typeof stringList>[0], command: string): string[] {
  const list = stringList(values, 'api');
  if (list.length === 0)
    throw usageError('--api is required (repeat it for each API the gateway protects)', command);
  return list;
}

const createGateway: Command = {
  path: ['gateway', 'create'],
  options: {
    name: { type: 'string' },
    api: { type: 'string', multiple: true },
    'client-certificates': { type: 'boolean' },
  },
  synopsis: '--name NAME --api AUDIENCE... [--client-certificates]',
  summary: 'mint the credential an API gateway sends to /decide/forward (shown once)',
  details: [
    'The gateway sends the key in the X-Tollgate-Gateway-Key header of every forward-auth',
    'request (see examples/ for NGINX, Traefik and Envoy); Tollgate stores only its digest.',
    '--api AUDIENCE     an API the gateway protects (repeatable, at least one): end-user',
    '                   tokens for any other API are refused (401)',
    '--client-certificates  it terminates mutual TLS and sets the client certificate header',
    '                   (MTLS_CERTIFICATE_HEADER) itself: believed for certificate-bound tokens',
    '                   (examples/nginx-mtls.conf); without it that header is ignored',
  ],
  async run({ values }, ctx) {
    const command = 'gateway create';
    const body = {
      name: requiredString(values, 'name', command),
      apis: apis(values, command),
      client_certificates: flag(values, 'client-certificates'),
    };
    const created = (await (await ctx.admin()).request('POST', '/gateways', body)) as GatewayView & {
      key: string;
    };
    ctx.out.result(created, () => [
      `Created gateway ${created.name} (id ${created.id}) for ${created.apis.join(', ')}${created.client_certificates ? '; it passes client certificates' : ''}.`,
      `key: ${created.key}`,
      'The key is shown only this once and cannot be retrieved later: store it now.',
    ]);
  },
};

const updateGateway: Command = {
  path: ['gateway', 'update'],
  args: ['NAME'],
  options: {
    api: { type: 'string', multiple: true },
    'client-certificates': { type: 'boolean' },
    'no-client-certificates': { type: 'boolean' },
  },
  synopsis: 'NAME --api AUDIENCE... [--client-certificates|--no-client-certificates]',
  summary: 'set the APIs a gateway protects (replacing the list); its key stays the same',
  details: [
    '--client-certificates     from now on its client certificate header is believed',
    '--no-client-certificates  from now on it is ignored (unchanged when neither is given)',
  ],
  async run({ positionals: [name = ''], values }, ctx) {
    const command = 'gateway update';
    const [on, off] = [flag(values, 'client-certificates'), flag(values, 'no-client-certificates')];
    if (on && off)
      throw usageError('--client-certificates and --no-client-certificates contradict each other', command);
    const body = { apis: apis(values, command), ...(on || off ? { client_certificates: on } : {}) };
    const updated = (await (
      await ctx.admin()
    ).request('PUT', `/gateways/${encodeURIComponent(name)}/apis`, body)) as GatewayView;
    ctx.out.result(
      updated,
      () =>
        `Gateway ${updated.name} now protects ${updated.apis.join(', ')}${updated.client_certificates ? '; it passes client certificates' : ''}.`,
    );
  },
};

const listGateways: Command = {
  path: ['gateway', 'list'],
  synopsis: '',
  summary: 'list the gateways allowed to ask /decide/forward',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/gateways')) as { gateways: GatewayView[] };
    ctx.out.result(result, () =>
      table(
        ['NAME', 'ID', 'APIS', 'CLIENT CERTIFICATES', 'CREATED'],
        result.gateways.map((g) => [
          g.name,
          g.id,
          g.apis.length > 0 ? listCell(g.apis) : '(none: refuses every token)',
          g.client_certificates ? 'yes' : 'no',
          g.created_at,
        ]),
        'No gateways.',
      ),
    );
  },
};

const deleteGateway: Command = {
  path: ['gateway', 'delete'],
  args: ['NAME'],
  synopsis: 'NAME',
  summary: 'delete a gateway: its key is refused from the next request on',
  async run({ positionals: [name = ''] }, ctx) {
    await (await ctx.admin()).request('DELETE', `/gateways/${encodeURIComponent(name)}`);
    ctx.out.result({ name, deleted: true }, () => `Deleted gateway ${name}.`);
  },
};

export const gatewayCommands: readonly Command[] = [
  createGateway,
  updateGateway,
  listGateways,
  deleteGateway,
];
