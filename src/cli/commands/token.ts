import { flag, optionalString, requiredString } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';
import { usageError } from '../errors.ts';
import { type ClientSecret, tokenServer } from '../oauth.ts';
import { readPipedSecret } from '../prompt.ts';

/**
 * `tollgate token`: a client-credentials access token (RFC 6749 §4.4) for a machine client.
 * Plain output is the access token alone, so `TOKEN=$(tollgate token …)` works.
 */
const token: Command = {
  path: ['token'],
  options: {
    'client-id': { type: 'string' },
    'client-secret-stdin': { type: 'boolean' },
    scope: { type: 'string' },
    api: { type: 'string' },
  },
  synopsis: '--client-id ID [--client-secret-stdin] --scope "a b" [--api AUDIENCE]',
  summary: 'get an access token for a machine client (client credentials) and print it',
  details: [
    '--client-secret-stdin   read the secret from stdin (one trailing newline is dropped), e.g.',
    '                        printf %s "$SECRET" | tollgate token --client-id ID --client-secret-stdin --scope read',
    '                        without it, TOLLGATE_CLIENT_SECRET is used when --client-id is TOLLGATE_CLIENT_ID',
    '--api AUD               the API the token is for (RFC 8707 resource), when the client has several',
    'Prints the access token alone on stdout; with --json, the whole token response.',
  ],
  async run({ values, url: urlOption }, ctx) {
    const command = 'token';
    const clientId = requiredString(values, 'client-id', command);
    const scope = requiredString(values, 'scope', command);
    const secret = await clientSecret(clientId, flag(values, 'client-secret-stdin'), ctx, command);
    const server = await tokenServer(urlOption, ctx.env, { id: clientId, idFrom: '--client-id', secret });
    const tokens = await server.requestTokens({
      grant_type: 'client_credentials',
      scope,
      resource: optionalString(values, 'api'),
    });
    ctx.out.result(tokens, () => tokens.access_token);
  },
};

/**
 * A secret on the command line would land in shell history and `ps`: it comes from stdin, or
 * from the TOLLGATE_CLIENT_ID/TOLLGATE_CLIENT_SECRET pair when that pair names this client.
 */
async function clientSecret(
  clientId: string,
  fromStdin: boolean,
  ctx: CommandContext,
  command: string,
): Promise<ClientSecret> {
  if (!fromStdin) {
    const { TOLLGATE_CLIENT_ID: envId, TOLLGATE_CLIENT_SECRET: envSecret } = ctx.env;
    if (envId === clientId && envSecret) return { value: envSecret, from: 'TOLLGATE_CLIENT_SECRET' };
    throw usageError(
      '--client-secret-stdin is required (the secret is read from stdin, never from arguments) unless TOLLGATE_CLIENT_ID is this client and TOLLGATE_CLIENT_SECRET is set',
      command,
    );
  }
  return {
    value: await readPipedSecret(ctx, command, 'client-secret-stdin'),
    from: '--client-secret-stdin',
  };
}

export const tokenCommands: readonly Command[] = [token];
