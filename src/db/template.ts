import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrations } from '../../migrations/index.ts';
import { DEFAULT_CACHE_DIR, trustedPath } from '../common/cache-dir.ts';
import { PRIVATE_DIR_MODE, protectDataDir } from '../common/index.ts';

/**
 * A fresh embedded database is a copy of a template: PGlite's initdb plus every migration, made
 * once per install instead of on every new DATA_DIR. initdb costs seconds and, inside PGlite, a
 * second PostgreSQL instance next to the first (twice the memory); a copy costs a fraction of a
 * second. The template holds the schema only: signing keys, the admin client, audit rows and
 * policies are created by each instance on its first start, so no two instances share a secret.
 *
 * A template is named and stamped with a key over the PGlite version and the migrations (names
 * and sources): a template made by another PGlite or for other migrations is never used, and one
 * being built is invisible until it is complete (built under a temporary name, then renamed).
 */

/** Bumped when the template's layout changes, so older caches are ignored. */
const FORMAT = 1;
const MANIFEST = 'template.json';
const DATA = 'pgdata';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where templates live unless the caller says otherwise: this install's own cache. */
export const DEFAULT_TEMPLATE_CACHE = DEFAULT_CACHE_DIR;

/** What `template.json` says: the layout, the key it was made for, and the PGlite that made it. */
interface Manifest {
  format: typeof FORMAT;
  key: string;
  pglite: string;
}

function pgliteVersion(): string {
  // The package exports no package.json; it sits above the entry point's dist/ folder.
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return String(manifest.version);
}

let cachedKey: string | undefined;

/** The key a usable template must carry: this PGlite, these migrations, this layout. */
export function templateKey(): string {
  if (cachedKey) return cachedKey;
  const hash = createHash('sha256').update(`tollgate-template-${FORMAT}\0${pgliteVersion()}\0`);
  const dir = join(root, 'migrations');
  for (const [name, migration] of Object.entries(migrations)) {
    const file = join(dir, `${name}.ts`);
    // The source file when it is there; else the functions, which is what runs.
    const source = existsSync(file)
      ? readFileSync(file, 'utf8')
      : `${migration.up.toString()}\0${migration.down?.toString() ?? ''}`;
    hash.update(name).update('\0').update(source).update('\0');
  }
  cachedKey = hash.digest('hex').slice(0, 16);
  return cachedKey;
}

function templatePath(cacheDir: string): string {
  return join(cacheDir, `pglite-${templateKey()}`);
}

/** The data directory of a complete template for this version in `cacheDir`, if there is one. */
export function findTemplate(cacheDir: string): string | undefined {
  const dir = templatePath(cacheDir);
  // CACHE_DIR itself may be a symbolic link the operator made; what is inside it may not.
  if (![trustedPath(cacheDir, true), trustedPath(dir), trustedPath(join(dir, DATA))].every(Boolean))
    return undefined;
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
  } catch {
    return undefined;
  }
  // Only an exact match counts, so this check is the whole validation (no schema library: this
  // module is loaded by the database thread too, where zod would cost every start ~40 ms).
  const { format, key } = (manifest ?? {}) as Partial<Manifest>;
  if (format !== FORMAT || key !== templateKey()) return undefined;
  const data = join(dir, DATA);
  return existsSync(join(data, 'PG_VERSION')) ? data : undefined;
}

/**
 * Makes the template in `cacheDir` unless it is there: `initialize(dir)` must create a migrated
 * database in the empty directory `dir` and close it. Several processes may race: each builds
 * under a name of its own and renames it into place; the first rename wins and the others
 * discard theirs. Returns the template's data directory.
 */
export async function buildTemplate(
  cacheDir: string,
  initialize: (dataDir: string) => Promise<void>,
): Promise<string> {
  const existing = findTemplate(cacheDir);
  if (existing) return existing;
  mkdirSync(cacheDir, { recursive: true });
  if (!trustedPath(cacheDir, true))
    throw new Error(`${cacheDir} is writable by other users: no template there`);
  const final = templatePath(cacheDir);
  const building = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(join(building, DATA), { recursive: true });
    await initialize(join(building, DATA));
    // PGlite makes its files 0666: nobody else may alter what every new database starts from.
    // Readable to all, as it holds no secret (a service user may run from a root-built image).
    shareReadOnly(building);
    const manifest: Manifest = {
      format: FORMAT,
      key: templateKey(),
      pglite: pgliteVersion(),
    };
    writeFileSync(join(building, MANIFEST), `${JSON.stringify(manifest)}\n`);
    if (!place(building, final) && !findTemplate(cacheDir)) {
      // What holds the name is no template (damaged, or its stamp was altered): replaced.
      const aside = `${building}.unusable`;
      if (!findTemplate(cacheDir) && place(final, aside)) rmSync(aside, { recursive: true, force: true });
      place(building, final);
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  const made = findTemplate(cacheDir);
  if (!made) throw new Error(`the database template in ${final} is incomplete`);
  return made;
}

/** Renames `from` to `to`; false when `to` is a directory that is not empty (another's). */
function place(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'ENOENT') return false;
    throw error;
  }
}

function shareReadOnly(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) shareReadOnly(path);
    else if (entry.isFile()) chmodSync(path, 0o644);
  }
}

/**
 * Fills the fresh `dataDir` with a copy of `template`. The copy is made beside it, made
 * owner-only, and renamed into place, so a crash mid-copy leaves `dataDir` empty (the next start
 * copies again), never a half database PGlite would take for a whole one. The caller holds the
 * data directory's lock, so copies left beside it by a crashed start are no one's: removed.
 */
export function copyTemplate(template: string, dataDir: string): void {
  const parent = dirname(dataDir);
  const prefix = `${basename(dataDir)}.`;
  for (const name of readdirSync(parent)) {
    const pid = name.startsWith(prefix) && name.endsWith('.seed') ? name.slice(prefix.length, -5) : '';
    if (/^\d+$/.test(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
  const staging = `${dataDir}.${process.pid}.seed`;
  try {
    cpSync(template, staging, { recursive: true });
    protectDataDir(staging);
    if (existsSync(dataDir)) rmdirSync(dataDir);
    renameSync(staging, dataDir);
  } catch (error) {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
