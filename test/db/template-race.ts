import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTemplate } from '../../src/db/template.ts';

// One of several processes racing to build the same template (template.test.ts): a stand-in
// for initdb writes files naming this process, slowly, so that the builds overlap.
const [cacheDir, startAt] = process.argv.slice(2);
await sleep(Math.max(0, Number(startAt) - Date.now()));
const made = await buildTemplate(cacheDir, async (dir) => {
  for (let i = 0; i < 20; i++) {
    writeFileSync(join(dir, `part-${i}`), String(process.pid));
    await sleep(25);
  }
  writeFileSync(join(dir, 'PG_VERSION'), String(process.pid));
});
process.stdout.write(made);
