import cluster from 'node:cluster';
import { withServiceNodeFlags } from '../common/index.ts';

/**
 * Several worker processes share the listening socket (node:cluster), so one instance uses
 * every core. They coordinate only through PostgreSQL, exactly like separate instances. A
 * worker that dies is replaced; SIGTERM drains every worker before the primary exits.
 * Workers run with the service's Node flags (common/node-flags.ts) even when the primary was
 * started without them: the workers, not the primary, serve the load.
 */
export function superviseWorkers(count: number): void {
  cluster.setupPrimary({ execArgv: withServiceNodeFlags(process.execArgv) });
  let stopping = false;
  const ready = new Set<number>();
  const fork = () => {
    const worker = cluster.fork();
    worker.once('message', (message) => message === 'ready' && ready.add(worker.id));
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that never started (bad database URL, port taken…) would fail again: give up.
    if (!ready.has(worker.id)) {
      process.stderr.write('tollgate: a worker failed to start; stopping\n');
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exitCode = 1;
      return;
    }
    process.stderr.write(
      `tollgate: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
    );
    setTimeout(fork, 1000).unref();
  });
  const stop = () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    let alive = workers.length;
    if (alive === 0) process.exit(0);
    for (const worker of workers) {
      worker?.once('exit', () => {
        alive -= 1;
        if (alive === 0) process.exit(0);
      });
      worker?.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
