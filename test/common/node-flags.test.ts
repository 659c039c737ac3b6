import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { SERVICE_NODE_FLAGS, withServiceNodeFlags } from '../../src/common/index.ts';

const root = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(resolve(root, file), 'utf8');

describe("the service's Node flags", () => {
  it('are exactly what `npm start` and the container image run the service with', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    assert.deepEqual(start.split(' '), ['node', ...SERVICE_NODE_FLAGS, 'src/main.ts']);
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1] ?? assert.fail('no CMD');
    assert.deepEqual(JSON.parse(cmd), ['node', ...SERVICE_NODE_FLAGS, 'src/main.ts']);
  });

  it('are flags this Node accepts (a misspelt V8 flag would stop the service from starting)', () => {
    const run = spawnSync(
      process.execPath,
      [...SERVICE_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.deepEqual(
      (JSON.parse(run.stdout) as string[]).slice(0, SERVICE_NODE_FLAGS.length),
      SERVICE_NODE_FLAGS,
    );
  });

  it('are appended, once, after the arguments a primary had, when those lack them', () => {
    assert.deepEqual(withServiceNodeFlags([], undefined), SERVICE_NODE_FLAGS);
    assert.deepEqual(withServiceNodeFlags(['--enable-source-maps'], ''), [
      '--enable-source-maps',
      ...SERVICE_NODE_FLAGS,
    ]);
    // Present already: not repeated.
    assert.deepEqual(withServiceNodeFlags(SERVICE_NODE_FLAGS, undefined), SERVICE_NODE_FLAGS);
  });

  it('leave a size the operator chose alone, in either spelling, on the command line or in NODE_OPTIONS, and only that flag counts as it', () => {
    for (const mine of [
      ['--max-semi-space-size=64'],
      ['--max_semi_space_size=64'],
      ['--max-semi-space-size', '64'],
    ])
      assert.deepEqual(withServiceNodeFlags(mine, undefined), mine);
    assert.deepEqual(withServiceNodeFlags([], '--max-old-space-size=512  --max_semi_space_size=8'), []);
    // Another flag whose name merely starts the same way is not the same flag.
    assert.deepEqual(withServiceNodeFlags(['--max-semi-space-size-x=1'], undefined), [
      '--max-semi-space-size-x=1',
      ...SERVICE_NODE_FLAGS,
    ]);
  });
});
