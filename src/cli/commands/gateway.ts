import type { GatewayView } from '../../gateway/index.ts';
import { requiredString } from '../args.ts';
import type { Command } from '../command.ts';
import { table } from '../output.ts';

const createGateway: Command = {
  path: ['gateway', 'create'],
  options: { name: { type: 'string' } },
  synopsis: '--name NAME',
  summary: 'mint the credential an API gateway sends to /decide/forward (shown once)',
  details: [
    'The gateway sends the key in the X-Tollgate-Gateway-Key header of every forward-auth',
    'request (see examples/ for NGINX, Traefik and Envoy); Tollgate stores only its digest.',
  ],
  async run({ values }, ctx) {
    const body = { name: requiredString(values, 'name', 'gateway create') };
    const created = (await (await ctx.admin()).request('POST', '/gateways', body)) as GatewayView & {
      key: string;
    };
    ctx.out.result(created, () => [
      `Created gateway ${created.name} (id ${created.id}).`,
      `key: ${created.key}`,
      'The key is shown only this once and cannot be retrieved later: store it now.',
    ]);
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
        ['NAME', 'ID', 'CREATED'],
        result.gateways.map((g) => [g.name, g.id, g.created_at]),
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

export const gatewayCommands: readonly Command[] = [createGateway, listGateways, deleteGateway];
