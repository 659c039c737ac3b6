import type { MessagePort } from 'node:worker_threads';
import type { DatabaseHandle } from './connect.ts';

/** What starts the database thread (pglite-thread.ts): its data dir, or undefined for memory. */
export interface DatabaseThreadInit {
  dataDir: string | undefined;
}

/**
 * What a module run in the database thread gets (DatabaseHandle.runInDatabaseThread): a handle
 * on that thread's PGlite (closed by the thread, not by the module) and its own port to the
 * caller. The module exports a function of this name taking it.
 */
export interface DatabaseThreadContext {
  db: DatabaseHandle;
  port: MessagePort;
  data: unknown;
}

export const THREAD_ENTRY = 'runInDatabaseThread';

/** Requests of the main thread; every one is answered once, by `id`. */
export type ToDatabaseThread =
  | { kind: 'query'; id: number; sql: string; parameters: readonly unknown[] }
  | { kind: 'begin'; id: number }
  | { kind: 'commit'; id: number }
  | { kind: 'rollback'; id: number }
  | { kind: 'listen'; id: number; channel: string }
  | { kind: 'unlisten'; id: number; listener: number }
  | { kind: 'attach'; id: number; module: string; port: MessagePort; data: unknown }
  | { kind: 'close'; id: number };

export type FromDatabaseThread =
  | { kind: 'ready' }
  | { kind: 'done'; id: number; rows?: unknown[]; affectedRows?: number | undefined; listener?: number }
  | { kind: 'failed'; id: number; error: ErrorFields }
  | { kind: 'notify'; listener: number; payload: string };

/**
 * A database error as plain fields. Structured clone keeps only an Error's name, message and
 * stack, while callers branch on PostgreSQL's `code` (SQLSTATE: 23505, 42501, class 22…) and
 * log `detail`, `constraint` and the like, so those travel one by one.
 */
export type ErrorFields = Record<string, string | number | undefined> & { message: string };

/** PostgreSQL's error fields, as pg and PGlite name them; bind parameters are left out. */
const FIELDS = [
  'name',
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
  'query',
] as const;

export function toErrorFields(error: unknown): ErrorFields {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: ErrorFields = { message: error.message };
  const source = error as unknown as Record<string, unknown>;
  for (const name of FIELDS) {
    const value = source[name];
    if (typeof value === 'string' || typeof value === 'number') fields[name] = value;
  }
  return fields;
}

/** An Error carrying the fields again (`code`, `detail`…), so callers see what PGlite threw. */
export function fromErrorFields(fields: ErrorFields): Error {
  const { message, name, ...rest } = fields;
  const error = Object.assign(new Error(message), rest);
  if (typeof name === 'string') error.name = name;
  return error;
}
