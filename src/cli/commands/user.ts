import { createHash, timingSafeEqual } from 'node:crypto';
import { flag, requiredString, stringList } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { listCell, table } from '../output.ts';
import { readHidden, readPipedSecret } from '../prompt.ts';

interface UserView {
  id: string;
  username: string;
  roles: string[];
  attrs: Record<string, string>;
  disabled: boolean;
}

const createUser: Command = {
  path: ['user', 'create'],
  options: {
    username: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    role: { type: 'string', multiple: true },
    attr: { type: 'string', multiple: true },
  },
  synopsis: '--username U [--password-stdin] [--role R]... [--attr KEY=VALUE]...',
  summary: 'create a user who can log in; asks for the password at a terminal, or reads it from stdin',
  details: [
    'At a terminal, the password is asked for twice and not shown as it is typed.',
    '--password-stdin   read the password from stdin instead (one trailing newline is dropped), e.g.',
    '                   printf %s "$PASSWORD" | tollgate user create --username alice --password-stdin',
  ],
  async run({ values }, ctx) {
    const command = 'user create';
    const username = requiredString(values, 'username', command);
    const attrs = Object.fromEntries(stringList(values, 'attr').map((pair) => splitAttr(pair, command)));
    // Never from arguments: a password there would land in shell history and `ps`.
    const password = flag(values, 'password-stdin')
      ? await readPipedSecret(ctx, command, 'password-stdin', 'password')
      : await askPassword(ctx, command);
    const body = { username, password, roles: stringList(values, 'role'), attrs };
    const created = (await (await ctx.admin()).request('POST', '/users', body)) as { id: string };
    ctx.out.result(created, () => `Created user ${username} (id ${created.id}).`);
  },
};

// Compared as digests in constant time, as every secret is.
const samePassword = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/** At a terminal: asked twice without echo, so a typo is not what the user is stuck with. */
async function askPassword(ctx: CommandContext, command: string): Promise<string> {
  const stdin = ctx.stdin();
  if (!stdin.isTTY) {
    throw usageError(
      'no terminal to ask for the password: pipe it in with --password-stdin (never as an argument)',
      command,
    );
  }
  const password = await readHidden('Password: ', stdin, ctx.stderr);
  if (password === '') throw usageError('the password must not be empty', command);
  if (!samePassword(await readHidden('Repeat password: ', stdin, ctx.stderr), password))
    throw failure('the passwords do not match; nothing was created');
  return password;
}

function splitAttr(pair: string, command: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw usageError(`--attr ${pair}: expected KEY=VALUE`, command);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

const listUsers: Command = {
  path: ['user', 'list'],
  synopsis: '',
  summary: 'list the users',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/users')) as { users: UserView[] };
    ctx.out.result(result, () =>
      table(
        ['ID', 'USERNAME', 'ROLES', 'ATTRS', 'DISABLED'],
        result.users.map((u) => [
          u.id,
          u.username,
          listCell(u.roles),
          listCell(Object.entries(u.attrs).map(([k, v]) => `${k}=${v}`)),
          u.disabled ? 'yes' : 'no',
        ]),
        'No users.',
      ),
    );
  },
};

const deleteUser: Command = {
  path: ['user', 'delete'],
  args: ['USER_ID'],
  synopsis: 'USER_ID',
  summary: 'delete a user and revoke their sessions, grants and tokens at once',
  async run({ positionals: [id = ''] }, ctx) {
    await (await ctx.admin()).request('DELETE', `/users/${encodeURIComponent(id)}`);
    ctx.out.result({ id, deleted: true }, () => `Deleted user ${id}.`);
  },
};

/** `user disable` / `user enable`: one command each, the same shape as `user delete`. */
function statusCommand(action: 'disable' | 'enable', summary: string): Command {
  return {
    path: ['user', action],
    args: ['USER_ID'],
    synopsis: 'USER_ID',
    summary,
    async run({ positionals: [id = ''] }, ctx) {
      const user = (await (
        await ctx.admin()
      ).request('POST', `/users/${encodeURIComponent(id)}/${action}`)) as UserView;
      ctx.out.result(
        user,
        () => `${action === 'disable' ? 'Disabled' : 'Enabled'} user ${user.username} (id ${id}).`,
      );
    },
  };
}

const disableUser = statusCommand(
  'disable',
  'refuse a user sign-in and revoke their sessions, grants and tokens at once',
);
const enableUser = statusCommand('enable', 'let a disabled user sign in again (old tokens stay revoked)');

export const userCommands: readonly Command[] = [createUser, listUsers, deleteUser, disableUser, enableUser];
