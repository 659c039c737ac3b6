import { Worker } from 'node:worker_threads';
import { type AuditLogMetrics, type AuditLogOptions, NO_AUDIT_METRICS } from './audit-log.ts';
import type { FromWriter, ToWriter, WriterInit } from './thread-protocol.ts';
import type { AuditEvent, AuditSink } from './types.ts';

/** How often recorded events are handed to the writer thread. */
const HANDOFF_MS = 20;

/**
 * The audit log with its writer in a worker thread (PostgreSQL). `record` only appends to an
 * array; every few milliseconds the array is handed to the thread in one message, and the
 * thread buffers, hashes and writes exactly as AuditLog does in process. The request thread
 * pays a push and a share of one structured clone per event.
 */
export class ThreadedAuditLog implements AuditSink {
  readonly #worker: Worker;
  readonly #metrics: AuditLogMetrics;
  #pending: { event: AuditEvent; at: Date }[] = [];
  #handoff: NodeJS.Timeout | undefined;
  readonly #waiting = new Map<number, () => void>();
  #nextId = 0;
  #closed: Promise<void> | undefined;

  private constructor(worker: Worker, metrics: AuditLogMetrics) {
    this.#worker = worker;
    this.#metrics = metrics;
  }

  static async start(
    url: string,
    options: AuditLogOptions,
    hooks: { metrics?: AuditLogMetrics; onError: (error: unknown) => void },
  ): Promise<ThreadedAuditLog> {
    const init: WriterInit = { url, options };
    const worker = new Worker(new URL('./audit-thread.ts', import.meta.url), { workerData: init });
    const log = new ThreadedAuditLog(worker, hooks.metrics ?? NO_AUDIT_METRICS);
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message: FromWriter) => {
        if (message.kind === 'ready') resolve();
        else log.#receive(message, hooks.onError);
      });
    });
    worker.on('error', hooks.onError);
    worker.on('exit', (code) => {
      if (!log.#closed) hooks.onError(new Error(`the audit writer thread stopped (exit code ${code})`));
    });
    // The thread must not keep a process alive that is otherwise done.
    worker.unref();
    return log;
  }

  record(event: AuditEvent): void {
    this.#pending.push({ event, at: new Date() });
    this.#handoff ??= setTimeout(() => this.#handOver(), HANDOFF_MS);
  }

  /** Resolves once everything recorded so far has been written (or writing failed). */
  flush(): Promise<void> {
    this.#handOver();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#post({ kind: 'flush', id });
    });
  }

  /** Hands over what is left, lets the thread write it (up to `graceMs`), then stops it. */
  close(graceMs = 5000): Promise<void> {
    this.#closed ??= (async () => {
      this.#handOver();
      await new Promise<void>((resolve) => {
        this.#waiting.set(-1, resolve);
        this.#post({ kind: 'close', graceMs });
        setTimeout(resolve, graceMs + 2000).unref();
      });
      await this.#worker.terminate();
    })();
    return this.#closed;
  }

  #handOver(): void {
    clearTimeout(this.#handoff);
    this.#handoff = undefined;
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    this.#post({ kind: 'events', events });
  }

  #post(message: ToWriter): void {
    this.#worker.postMessage(message);
  }

  #receive(message: FromWriter, onError: (error: unknown) => void): void {
    if (message.kind === 'metrics') {
      this.#metrics.depth(message.depth);
      if (message.dropped > 0) this.#metrics.dropped(message.dropped);
      for (let i = 0; i < message.failed; i++) this.#metrics.failed();
      for (const [rows, seconds] of message.writes) this.#metrics.written(rows, seconds);
    } else if (message.kind === 'error') {
      onError(new Error(message.message));
    } else if (message.kind === 'flushed') {
      this.#waiting.get(message.id)?.();
      this.#waiting.delete(message.id);
    } else if (message.kind === 'closed') {
      this.#waiting.get(-1)?.();
      this.#waiting.delete(-1);
    }
  }
}
