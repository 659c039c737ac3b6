import type { Command } from '../command.ts';
import { table } from '../output.ts';

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  activatesAt: string;
  retiresAt?: string;
}

function keyTable(keys: KeyView[]): string[] {
  return table(
    ['KID', 'ALG', 'STATE', 'SIGNS_FROM', 'LEAVES_JWKS'],
    keys.map((k) => [k.kid, k.alg, k.state, k.activatesAt, k.retiresAt ?? '-']),
    'No keys.',
  );
}

const listKeys: Command = {
  path: ['keys', 'list'],
  synopsis: '',
  summary: 'list the signing keys published in JWKS and their state',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/keys')) as { keys: KeyView[] };
    ctx.out.result(result, () => keyTable(result.keys));
  },
};

const rotateKeys: Command = {
  path: ['keys', 'rotate'],
  synopsis: '',
  summary: 'add a new key per algorithm: published in JWKS now, signing once caches have seen it',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('POST', '/keys/rotate')) as { keys: KeyView[] };
    ctx.out.result(result, () => [
      'New keys are published now and start signing at SIGNS_FROM; the old ones stay in JWKS until their tokens expire.',
      ...keyTable(result.keys),
    ]);
  },
};

export const keyCommands: readonly Command[] = [listKeys, rotateKeys];
