import { type MessagePort, Worker } from 'node:worker_threads';
import {
  type AuditLogHooks,
  type AuditLogMetrics,
  type AuditLogOptions,
  NO_AUDIT_METRICS,
} from './audit-log.ts';
import type { ChainHead } from './chain.ts';
import { Handoff } from './handoff.ts';
import type { FromWriter, ToWriter, WriterInit } from './thread-protocol.ts';
import type { AuditEvent, AuditSink, DecisionCall } from './types.ts';

/** How often recorded events are handed to the writer thread. */
const HANDOFF_MS = 20;
/**
 * ...or sooner, once a hand-off holds this many items (64 KiB of array): an array past 128 KiB
 * lives in V8's large-object space, where growing, cloning and collecting it cost the request
 * thread three to four times as much per decision (0.3 → 1.0-1.3 µs, measured with 20-check
 * batches at the rate one core answers them).
 */
const HANDOFF_ITEMS = 8192;
/** The longest one wave of callers waits for the writer's backlog to come down. */
const RELIEF_MS = 200;
/** The longest flush() waits for the thread's answer. */
const FLUSH_TIMEOUT_MS = 30_000;

type Hooks = AuditLogHooks;

/** Where the writer is reached: a worker of its own, or a port into the database's thread. */
interface Link {
  postMessage(message: ToWriter): void;
  ref(): void;
  unref(): void;
}

/**
 * The audit log with its writer in another thread: a worker of its own (PostgreSQL, `start`) or
 * the embedded database's thread (`attach`). `record` only appends to an array; every few
 * milliseconds the array is handed to the thread in one message, and the thread buffers,
 * hashes and writes exactly as AuditLog does in process. The request thread
 * pays a push and a share of one structured clone per event (decisions travel flat, handoff.ts).
 *
 * Should its own thread die, a new one takes over, and the first event it writes says that up
 * to the number of events handed over but not reported written may be missing. A writer in the
 * database's thread (`attach`) ends with that thread, which the database reports itself.
 */
export class ThreadedAuditLog implements AuditSink {
  /** PostgreSQL: what each writer thread starts from, and its code. */
  readonly #spawning: { init: WriterInit; script: URL } | undefined;
  readonly #options: AuditLogOptions;
  readonly #hooks: Hooks;
  readonly #metrics: AuditLogMetrics;
  #link: Link | undefined;
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #pending = new Handoff();
  #handoff: NodeJS.Timeout | undefined;
  readonly #waiting = new Map<number, () => void>();
  #nextId = 0;
  #closed: Promise<void> | undefined;
  /** Events handed to the current thread, and rows it reported written. */
  #handedOver = 0;
  #written = 0;
  #droppedWithoutThread = 0;
  #lastWritten: ChainHead | undefined;
  /** Flush and close requests made while no thread runs, delivered to the next one. */
  #backlog: ToWriter[] = [];
  /** The writer's buffer as it last reported it, and whether its last writes failed. */
  #threadDepth = 0;
  #failing = false;
  /** Callers waiting for the backlog to come down (see backpressure). */
  #relief: { promise: Promise<void>; resolve: () => void } | undefined;

  private constructor(
    options: AuditLogOptions,
    hooks: Hooks,
    spawning: { init: WriterInit; script: URL } | undefined,
  ) {
    this.#options = options;
    this.#spawning = spawning;
    this.#hooks = hooks;
    this.#metrics = hooks.metrics ?? NO_AUDIT_METRICS;
  }

  /** `script`: the thread's code (tests hand in one that fails on purpose). */
  static async start(
    url: string,
    options: AuditLogOptions,
    hooks: Hooks,
    script = new URL('./audit-thread.ts', import.meta.url),
  ): Promise<ThreadedAuditLog> {
    const log = new ThreadedAuditLog(options, hooks, { init: { url, options }, script });
    await log.#spawn();
    return log;
  }

  /**
   * The writer already running in another thread (the embedded database's, see
   * database-thread-writer.ts), reached through `port`.
   */
  static attach(port: MessagePort, options: AuditLogOptions, hooks: Hooks): ThreadedAuditLog {
    const log = new ThreadedAuditLog(options, hooks, undefined);
    port.on('message', (message: FromWriter) => log.#receive(message));
    // Its other end closes with the database thread: nothing is written from then on.
    port.once('close', () => {
      if (log.#closed) return;
      log.#link = undefined;
      log.#hooks.onError(new Error('the audit writer stopped with the database thread'));
    });
    port.unref();
    log.#port = port;
    log.#connect(port);
    return log;
  }

  async #spawn(): Promise<void> {
    if (!this.#spawning) return;
    const worker = new Worker(this.#spawning.script, { workerData: this.#spawning.init });
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message: FromWriter) => {
        if (message.kind === 'ready') resolve();
        else this.#receive(message);
      });
    });
    worker.on('error', this.#hooks.onError);
    worker.once('exit', (code) => {
      if (this.#closed) return;
      this.#worker = undefined;
      this.#link = undefined;
      this.#hooks.onError(new Error(`the audit writer thread stopped (exit code ${code}); starting another`));
      const unwritten = Math.max(0, this.#handedOver - this.#written);
      this.#handedOver = 0;
      this.#written = 0;
      this.#pending.unshift({
        type: 'audit.dropped',
        data: { reason: 'the writer thread stopped', at_most: unwritten },
      });
      this.#spawn().catch((error: unknown) => this.#hooks.onError(error));
    });
    // The thread must not keep a process alive that is otherwise done.
    worker.unref();
    this.#worker = worker;
    this.#connect(worker);
  }

  #connect(link: Link): void {
    this.#link = link;
    // Events first, so that a flush asked for meanwhile covers them.
    this.#handOver();
    for (const message of this.#backlog.splice(0)) link.postMessage(message);
  }

  /** The newest row the writer thread reported appending. */
  get lastWritten(): ChainHead | undefined {
    return this.#lastWritten;
  }

  record(event: AuditEvent): void {
    if (this.#full(1)) return;
    this.#pending.push(event, Date.now());
    this.#schedule();
  }

  recordDecisions(call: DecisionCall): void {
    if (this.#full(call.checks.length)) return;
    this.#pending.pushCall(call, Date.now());
    this.#schedule();
  }

  /** Only while no thread is running can pending grow; it stays within the writer's capacity. */
  #full(count: number): boolean {
    if (this.#pending.count < this.#options.capacity) return false;
    this.#droppedWithoutThread += count;
    this.#metrics.dropped(count);
    return true;
  }

  #schedule(): void {
    if (this.#pending.items.length >= HANDOFF_ITEMS) this.#handOver();
    else this.#handoff ??= setTimeout(() => this.#handOver(), HANDOFF_MS);
  }

  /**
   * Pending above half the buffer, settled below a quarter of it or after RELIEF_MS, whichever
   * comes first: answers slow down while the writer catches up, and never stall for long.
   */
  backpressure(): Promise<void> | undefined {
    if (this.#failing || this.#backlogSize() < this.#options.capacity / 2) return undefined;
    if (!this.#relief) {
      let resolve = () => {};
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      this.#relief = { promise, resolve };
      setTimeout(() => this.#relieve(), RELIEF_MS).unref();
    }
    return this.#relief.promise;
  }

  #backlogSize(): number {
    return this.#pending.count + this.#threadDepth;
  }

  #relieve(): void {
    const relief = this.#relief;
    this.#relief = undefined;
    relief?.resolve();
  }

  /** Resolves once everything recorded so far has been written (or writing failed). */
  flush(): Promise<void> {
    this.#handOver();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#wait(id, resolve);
      this.#post({ kind: 'flush', id });
      // Never wait forever on a thread that is gone: its successor gets its own requests.
      setTimeout(() => this.#answered(id), FLUSH_TIMEOUT_MS).unref();
    });
  }

  /** Hands over what is left, lets the thread write it (up to `graceMs`), then stops it. */
  close(graceMs = 5000): Promise<void> {
    this.#closed ??= (async () => {
      this.#handOver();
      await new Promise<void>((resolve) => {
        this.#wait(-1, resolve);
        this.#post({ kind: 'close', graceMs });
        setTimeout(() => this.#answered(-1), graceMs + 2000).unref();
      });
      await this.#worker?.terminate();
      this.#port?.close();
    })();
    return this.#closed;
  }

  #handOver(): void {
    clearTimeout(this.#handoff);
    this.#handoff = undefined;
    // Without a thread (one is starting) the events wait here.
    if (this.#pending.count === 0 || !this.#link) return;
    if (this.#droppedWithoutThread > 0) {
      this.#pending.unshift({
        type: 'audit.dropped',
        data: { reason: 'no writer thread', count: this.#droppedWithoutThread },
      });
      this.#droppedWithoutThread = 0;
    }
    const { items, count } = this.#pending.take();
    this.#handedOver += count;
    this.#post({ kind: 'events', items, count });
  }

  #post(message: ToWriter): void {
    if (this.#link) this.#link.postMessage(message);
    else this.#backlog.push(message);
  }

  /**
   * While an answer is awaited the link keeps the process alive (a flush or close at shutdown
   * has nothing else running); otherwise it must not.
   */
  #wait(id: number, resolve: () => void): void {
    this.#waiting.set(id, resolve);
    this.#link?.ref();
  }

  #answered(id: number): void {
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#link?.unref();
  }

  #receive(message: FromWriter): void {
    if (message.kind === 'metrics') {
      if (message.head) this.#lastWritten = message.head;
      this.#metrics.depth(message.depth);
      if (message.dropped > 0) this.#metrics.dropped(message.dropped);
      for (let i = 0; i < message.failed; i++) this.#metrics.failed();
      for (const [rows, seconds] of message.writes) {
        this.#written += rows;
        this.#metrics.written(rows, seconds);
      }
      this.#threadDepth = message.depth;
      if (message.failed > 0) this.#failing = true;
      else if (message.writes.length > 0) this.#failing = false;
      if (this.#relief && (this.#failing || this.#backlogSize() < this.#options.capacity / 4))
        this.#relieve();
    } else if (message.kind === 'tampering') {
      this.#hooks.onTampering?.(message.detail);
    } else if (message.kind === 'error') {
      this.#hooks.onError(new Error(message.message));
    } else if (message.kind === 'flushed') {
      this.#answered(message.id);
    } else if (message.kind === 'closed') {
      this.#answered(-1);
    }
  }
}
