import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../../src/compose/index.ts';

describe('shutdown list', () => {
  it('stops components in reverse order of start, awaiting each before the next', async () => {
    const lifecycle = new Lifecycle();
    const stopped: string[] = [];
    for (const name of ['database', 'key ring', 'audit', 'http server']) {
      lifecycle.started(name, name, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        stopped.push(name);
      });
    }
    assert.deepEqual(lifecycle.names(), ['database', 'key ring', 'audit', 'http server']);
    await lifecycle.close();
    assert.deepEqual(stopped, ['http server', 'audit', 'key ring', 'database']);
  });

  it('keeps stopping the rest when one stop fails, then throws naming it', async () => {
    const lifecycle = new Lifecycle();
    const stopped: string[] = [];
    lifecycle.started(1, 'database', () => void stopped.push('database'));
    lifecycle.started(2, 'audit', () => {
      throw new Error('flush failed');
    });
    lifecycle.started(3, 'http server', () => void stopped.push('http server'));
    await assert.rejects(lifecycle.close(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, 'stopping audit failed');
      assert.equal((error.cause as Error).message, 'flush failed');
      return true;
    });
    assert.deepEqual(stopped, ['http server', 'database']);
  });

  it('reports several failures together, and stops each component once', async () => {
    const lifecycle = new Lifecycle();
    let stops = 0;
    for (const name of ['a', 'b']) {
      lifecycle.started(name, name, () => {
        stops += 1;
        throw new Error(name);
      });
    }
    await assert.rejects(lifecycle.close(), AggregateError);
    await lifecycle.close();
    assert.equal(stops, 2);
    assert.throws(() => lifecycle.started('late', 'late', () => {}), /late started after shutdown began/);
  });

  it('returns what was started, so start-up registers inline', () => {
    const lifecycle = new Lifecycle();
    const server = { port: 1 };
    assert.equal(
      lifecycle.started(server, 'server', () => {}),
      server,
    );
  });
});
