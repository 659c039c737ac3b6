import type { AuditLogOptions, TamperingDetail } from './audit-log.ts';

/** Messages between ThreadedAuditLog (main thread) and the writer thread (audit-thread.ts). */
export type ToWriter =
  /** A Handoff's items (handoff.ts) holding `count` events. */
  | { kind: 'events'; items: unknown[]; count: number }
  | { kind: 'flush'; id: number }
  | { kind: 'close'; graceMs: number };

export type FromWriter =
  | { kind: 'ready' }
  | { kind: 'flushed'; id: number }
  | { kind: 'closed' }
  | { kind: 'error'; message: string }
  | { kind: 'tampering'; detail: TamperingDetail }
  | {
      kind: 'metrics';
      depth: number;
      dropped: number;
      failed: number;
      /** Rows and seconds of each batch written since the last report. */
      writes: [rows: number, seconds: number][];
      /** The newest row the thread appended. */
      head: { seq: number; hash: string } | undefined;
    };

export interface WriterInit {
  url: string;
  options: AuditLogOptions;
}
