import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

// The first writer thread of a test dies on the first events it gets; the next is the real one.
const marker = process.env.TOLLGATE_TEST_THREAD_MARKER ?? '';
if (!existsSync(marker)) {
  writeFileSync(marker, 'crashed once');
  parentPort?.on('message', (message: { kind: string }) => {
    if (message.kind === 'events') process.exit(1);
  });
  parentPort?.postMessage({ kind: 'ready' });
} else {
  await import('../../src/audit/audit-thread.ts');
}
