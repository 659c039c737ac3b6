import { closeSync, constants, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';

/**
 * The embedded database admits one process: two PGlite instances on one directory each keep
 * their own buffers and overwrite each other's pages, losing data silently (issue 9). The lock
 * is a file beside the database holding the holder's pid, created with O_EXCL.
 */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  readonly pid: number;
  readonly lockPath: string;

  constructor(dataDir: string, lockPath: string, pid: number) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid} (lock file ${lockPath}); ` +
        'stop that process first, or use PostgreSQL (DATABASE_URL) to run several instances',
    );
    this.pid = pid;
    this.lockPath = lockPath;
  }
}

export interface DataDirLock {
  release(): void;
}

/**
 * Takes the lock for `dataDir` (the file `<dataDir>.lock`, mode 0600), or throws
 * DataDirLockedError naming the pid that holds it. A lock whose process is gone (killed, crashed)
 * is taken over. The lock is released by `release()` and, failing that, when the process exits.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = `${dataDir}.lock`;
  if (heldHere.has(path)) throw new DataDirLockedError(dataDir, path, process.pid);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path)) return held(path);
    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (holder !== undefined && isAlive(holder)) throw new DataDirLockedError(dataDir, path, holder);
    // Stale. Moving it aside is atomic, so of several processes taking it over one wins; if what
    // was moved turns out to be a live process's fresh lock, it is refused just the same.
    const aside = `${path}.${process.pid}.stale`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = parsePid(readFileSync(aside, 'utf8'));
    unlinkSync(aside);
    if (moved !== undefined && moved !== holder && isAlive(moved))
      throw new DataDirLockedError(dataDir, path, moved);
  }
  throw new Error(`could not take the lock ${path}: it keeps changing hands`);
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Locks this process holds: opening one directory twice in a process is refused as well. */
const heldHere = new Set<string>();

function held(path: string): DataDirLock {
  heldHere.add(path);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    process.removeListener('exit', release);
    try {
      // Only our own lock: never remove one another process has since taken over.
      if (parsePid(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return { release };
}

/**
 * The pid in the lock file; undefined when it holds none, 'gone' when the file vanished. A
 * holder writes its pid right after creating the file, so an empty file is read again briefly
 * before it counts as the debris of a crash.
 */
async function readHolder(path: string): Promise<number | 'gone' | undefined> {
  for (let i = 0; i < 10; i++) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw error;
    }
    const pid = parsePid(text);
    if (pid !== undefined || text.length > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return /^\d+$/.test(text.trim()) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  // Our own pid in the file is a lock left by an earlier process that had the same pid (pid 1
  // in a restarted container): we do not hold it yet, so it is stale.
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
