import { existsSync } from 'node:fs';
import { CHROMIUM } from './chromium.ts';
import { CLUSTER_TOOLS } from './cluster.ts';
import { ENGINE } from './database.ts';
import { nginxBinary } from './nginx.ts';

/**
 * What some tests need beyond Node and a database: a test that lacks one is skipped, with the
 * reason. TOLLGATE_TEST_REQUIRE (comma-separated) names capabilities a run must have: a test
 * that would be skipped only for want of required ones fails instead, so CI cannot lose
 * coverage to a skip nobody reads.
 */
export type Capability = 'postgres' | 'redis' | 'nginx' | 'cluster' | 'chromium' | 'system-node';

/**
 * The system's Node (Debian's 20), older than the project's own: what the CLI entry and the
 * compiled client export must still run on.
 */
export const SYSTEM_NODE = '/usr/bin/node';

const HOW: Record<Capability, string> = {
  postgres: 'set TOLLGATE_TEST_DATABASE_URL to a PostgreSQL server',
  redis: 'set TOLLGATE_TEST_REDIS_URL',
  nginx: 'install nginx',
  cluster: "install PostgreSQL's cluster tools (pg_createcluster)",
  chromium: `install chromium (${CHROMIUM})`,
  'system-node': `install Debian's nodejs package (${SYSTEM_NODE})`,
};

let nginx: boolean | undefined;
const present: Record<Capability, () => boolean> = {
  postgres: () => ENGINE === 'postgres',
  redis: () => process.env.TOLLGATE_TEST_REDIS_URL !== undefined,
  // Looked for only by tests that need it: it starts a process.
  nginx: () => (nginx ??= nginxBinary() !== undefined),
  cluster: () => CLUSTER_TOOLS,
  chromium: () => existsSync(CHROMIUM),
  'system-node': () => existsSync(SYSTEM_NODE),
};

function requiredCapabilities(): Set<Capability> {
  const names = (process.env.TOLLGATE_TEST_REQUIRE ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(name in HOW))
      throw new Error(
        `TOLLGATE_TEST_REQUIRE: unknown capability ${name} (known: ${Object.keys(HOW).join(', ')})`,
      );
  }
  const required = new Set(names as Capability[]);
  // The older switch for nginx alone.
  if (process.env.TOLLGATE_TEST_NGINX === 'required') required.add('nginx');
  return required;
}

/**
 * For node:test's `skip` option: false when every capability is present, else the reason to
 * skip. Throws when every missing capability is one TOLLGATE_TEST_REQUIRE names (a skip that
 * would hide what the run set out to test); a capability missing that the run does not require
 * (PostgreSQL in the embedded-database run) still skips.
 */
export function skipUnless(...needed: Capability[]): false | string {
  const missing = needed.filter((capability) => !present[capability]());
  if (missing.length === 0) return false;
  const required = requiredCapabilities();
  if (missing.every((capability) => required.has(capability))) {
    throw new Error(
      `TOLLGATE_TEST_REQUIRE names ${missing.join(', ')}, which this run lacks: ${missing.map((c) => HOW[c]).join('; ')}`,
    );
  }
  return `needs ${missing.join(' and ')}: ${missing.map((c) => HOW[c]).join('; ')}`;
}
