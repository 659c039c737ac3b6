import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { sameHash } from './chain.ts';

/**
 * Decision segments: on the embedded database with a data directory, the decision log's lines
 * (decision-rows.ts: callLine) go to append-only files of JSON lines, and each packed row holds
 * where its lines are and their SHA-256 (SEGMENT_FORMAT), MAC'd and chained like any row. The
 * embedded database costs tens of nanoseconds per stored byte (its wire protocol runs in
 * JavaScript, then WAL and compression), more than everything else the decision log does, where
 * appending to a file costs a copy; the chain still covers every byte, through the digest
 * (docs/architecture.md 3.6). Files are owner-only, in a directory of their own beside the
 * database; one is written at a time, and a new one is started at each start and every
 * SEGMENT_BYTES.
 */

/** The data of a row whose lines are in a segment. */
export const SEGMENT_FORMAT = 'segment/1';
/** A new file once one would grow past this. */
const SEGMENT_BYTES = 256 * 1024 * 1024;
/** No row's lines come near this; a row saying more is not read. */
const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** Segment file names, and nothing else: a row naming another path is never read. */
const SEGMENT_NAME = /^decisions-\d{8}T\d{6}-\d{1,9}\.jsonl$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Where a row's lines are. */
export interface SegmentRef {
  file: string;
  offset: number;
  bytes: number;
  sha256: string;
}

/** A segment row's data, as JSON text: where its `decisions` are and their digest. */
export function segmentData(ref: SegmentRef, decisions: number): string {
  return JSON.stringify({ format: SEGMENT_FORMAT, ...ref, decisions });
}

/** Appends rows' lines to the current segment file (one writer per data directory). */
export class SegmentWriter {
  readonly #dir: string;
  #handle: FileHandle | undefined;
  #file = '';
  #size = 0;
  #unsynced = false;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Appends `text` (whole lines) and says where it is. */
  async append(text: string): Promise<SegmentRef> {
    const bytes = Buffer.from(text);
    if (!this.#handle || this.#size + bytes.length > SEGMENT_BYTES) await this.#next();
    const handle = this.#handle as FileHandle;
    const offset = this.#size;
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
      done += bytesWritten;
    }
    this.#size += bytes.length;
    this.#unsynced = true;
    return {
      file: this.#file,
      offset,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  }

  /** Makes what was appended durable: before the rows that point at it are committed. */
  async sync(): Promise<void> {
    if (!this.#unsynced || !this.#handle) return;
    await this.#handle.datasync();
    this.#unsynced = false;
  }

  async close(): Promise<void> {
    await this.sync();
    await this.#handle?.close();
    this.#handle = undefined;
  }

  /**
   * A new file. Bytes a crash left after the last committed row stay in the old one,
   * unreferenced: nothing is appended after them.
   */
  async #next(): Promise<void> {
    await this.close();
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    for (let n = 1; ; n++) {
      const file = `decisions-${stamp}-${n}.jsonl`;
      try {
        this.#handle = await open(join(this.#dir, file), 'wx', 0o600);
        this.#file = file;
        this.#size = 0;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }
}

/**
 * A segment row's lines, read back and checked against the digest its row holds; or why they
 * cannot be (no segment directory here, a file missing, cut short or edited).
 */
export async function readSegment(
  dir: string | undefined,
  data: Record<string, unknown>,
): Promise<{ text: string } | { problem: string }> {
  const { file, offset, bytes, sha256 } = data;
  if (
    typeof file !== 'string' ||
    !SEGMENT_NAME.test(file) ||
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0 ||
    !Number.isSafeInteger(bytes) ||
    (bytes as number) < 0 ||
    (bytes as number) > MAX_CHUNK_BYTES ||
    typeof sha256 !== 'string' ||
    !SHA256.test(sha256)
  )
    return { problem: 'the row does not say where its decisions are (not a segment reference)' };
  if (dir === undefined) return { problem: `this service keeps no decision segments (${file})` };
  let handle: FileHandle;
  try {
    handle = await open(join(dir, file), 'r');
  } catch {
    return { problem: `decision segment ${file} is missing (deleted)` };
  }
  try {
    const buffer = Buffer.alloc(bytes as number);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset as number);
    if (bytesRead < buffer.length) return { problem: `decision segment ${file} is cut short (truncated)` };
    if (!sameHash(sha256, createHash('sha256').update(buffer).digest('hex')))
      return { problem: `decisions in segment ${file} do not match their digest (edited)` };
    return { text: buffer.toString('utf8') };
  } finally {
    await handle.close();
  }
}
