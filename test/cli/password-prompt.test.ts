import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/common/index.ts';
import { userQueries } from '../../src/db/index.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const root = resolve(import.meta.dirname, '../..');
const SCRIPT = '/usr/bin/script';

/**
 * Runs `tollgate args` on a pseudo-terminal (util-linux `script`), answering each prompt in
 * `answers` once it has been shown, as a person would: typing before the prompt would be echoed
 * by the terminal before the CLI could turn echo off. Resolves with everything the terminal showed.
 */
function onTerminal(
  args: string[],
  env: Record<string, string>,
  answers: [RegExp, string][],
): Promise<{ code: number | null; screen: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, 'bin/tollgate.js', ...args].map(quote).join(' ');
  const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], {
    cwd: root,
    env: { PATH: process.env.PATH, TERM: 'dumb', ...env },
  });
  let screen = '';
  let answered = 0;
  child.stdout.on('data', (chunk) => {
    screen += chunk;
    const next = answers[answered];
    if (next?.[0].test(screen.slice(screen.lastIndexOf('\n') + 1))) {
      answered += 1;
      child.stdin.write(next[1]);
    }
  });
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, screen }));
  });
}

describe('user create at a terminal', {
  skip: existsSync(SCRIPT) ? false : `needs ${SCRIPT} (util-linux)`,
}, () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance();
  });
  after(() => tg.close());

  it('asks for the password twice without echoing it, and stores exactly what was typed', async () => {
    const password = 'Typed-At-A-Terminal-7';
    const run = await onTerminal(['user', 'create', '--username', 'carol'], { DATA_DIR: tg.dataDir }, [
      [/Password: $/, `${password}\r`],
      [/Repeat password: $/, `${password}\r`],
    ]);
    assert.equal(run.code, 0, run.screen);
    assert.match(run.screen, /Created user carol \(id /);
    assert.ok(!run.screen.includes(password), `the password was echoed: ${JSON.stringify(run.screen)}`);
    assert.ok(!run.screen.includes('*'), 'not even as stars');
    const row = await userQueries(tg.tollgate.db.db).findByUsername('carol');
    assert.equal(await verifyPassword(row?.password_hash, password), true);
  });

  it('creates nothing when the two entries differ, and edits with backspace', async () => {
    const run = await onTerminal(['user', 'create', '--username', 'dave'], { DATA_DIR: tg.dataDir }, [
      [/Password: $/, 'first-secret-x\u007f\r'],
      [/Repeat password: $/, 'first-secret-x\r'],
    ]);
    assert.equal(run.code, 1, run.screen);
    assert.match(run.screen, /tollgate: the passwords do not match; nothing was created/);
    const { users } = (await (await tg.admin$('GET', '/users')).json()) as { users: { username: string }[] };
    assert.ok(!users.some((u) => u.username === 'dave'));
  });

  it('refuses --password-stdin at a terminal, where the typed password would be shown', async () => {
    const run = await onTerminal(
      ['user', 'create', '--username', 'erin', '--password-stdin'],
      { DATA_DIR: tg.dataDir },
      [],
    );
    assert.equal(run.code, 2, run.screen);
    assert.match(run.screen, /--password-stdin needs the password piped in/);
  });
});
