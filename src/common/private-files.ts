import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Owner-only modes for everything under DATA_DIR (issue 9: other local users read the WAL). */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Makes files this process creates from now on owner-only (umask 077). PGlite creates its files
 * through Node's fs with modes 0666/0777, so without it every WAL segment written at run time
 * would be readable by every local user. Call once, from a process entry point (the server's
 * main, the CLI's migrate): the umask is process-wide and lasts for the process's lifetime.
 */
export function restrictNewFileModes(): void {
  process.umask(0o077);
}

/**
 * Creates `dir` (0700) when missing, makes it 0700, and takes group and other access away from
 * what is below it: directories become 0700, files 0600. `owned` names the entries to tighten
 * (recursively); undefined means all of them. DATA_DIR may be a directory the operator also uses
 * for other things, so the server names its own entries rather than chmod whatever is there.
 * Symbolic links below `dir` are neither followed nor changed. Returns how many entries were
 * tightened, so the caller can say so in the log.
 */
export function protectDataDir(dir: string, owned?: readonly string[]): number {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  let changed = 0;
  // DATA_DIR itself may be a symbolic link to a volume: the directory it names is protected.
  if ((statSync(dir).mode & 0o777) !== PRIVATE_DIR_MODE) {
    chmodSync(dir, PRIVATE_DIR_MODE);
    changed++;
  }
  for (const entry of owned ?? readdirSync(dir)) {
    if (existsSync(join(dir, entry))) changed += tighten(join(dir, entry));
  }
  return changed;
}

function tighten(path: string): number {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return 0;
  let changed = 0;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o777) !== PRIVATE_DIR_MODE) {
      chmodSync(path, PRIVATE_DIR_MODE);
      changed++;
    }
    for (const entry of readdirSync(path)) changed += tighten(join(path, entry));
  } else if ((stat.mode & 0o077) !== 0) {
    chmodSync(path, PRIVATE_FILE_MODE);
    changed++;
  }
  return changed;
}

/** Why a private file could not be created or read; the message names the path. */
export class PrivateFileError extends Error {
  override readonly name = 'PrivateFileError';
}

/**
 * Creates `path` with `content`, mode 0600, atomically and exclusively: the content is written
 * to a new temporary file beside it (O_EXCL | O_NOFOLLOW), which is then hard-linked into place.
 * link(2) never follows or replaces what is at `path`, so a file or symbolic link already there
 * (planted to redirect the write, issue 9) is refused, and no reader ever sees half a file.
 */
export function createPrivateFile(path: string, content: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    PRIVATE_FILE_MODE,
  );
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new PrivateFileError(
        `refusing to write ${path}: a file or symbolic link is already there; remove it if it is not yours`,
      );
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/**
 * Reads a private file without following a symbolic link at `path` (O_NOFOLLOW): a link planted
 * there must not make the service read (or trust) another file. Returns undefined when missing.
 */
export function readPrivateFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw new PrivateFileError(`refusing to read ${path}: it is a symbolic link, not a file`);
    throw error;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new PrivateFileError(`refusing to read ${path}: not a regular file`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
