import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import {
  type DatabaseThreadInit,
  type FromDatabaseThread,
  fromErrorFields,
  type ToDatabaseThread,
} from './thread-protocol.ts';

type Request = ToDatabaseThread extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;
type Done = Extract<FromDatabaseThread, { kind: 'done' }>;

/**
 * Called when the database thread stops unasked (a crash in PGlite, out of memory): the
 * embedded database is gone, so by default the error is thrown, uncaught, and the process ends
 * rather than answer every request with a failure.
 */
export type ThreadFailureHandler = (error: Error) => void;

const throwUncaught: ThreadFailureHandler = (error) => {
  process.nextTick(() => {
    throw error;
  });
};

/**
 * The main thread's side of the embedded database's thread (pglite-thread.ts): requests with
 * an id each, answered in any order. The thread keeps the process alive only while a request
 * is outstanding, as the in-process PGlite did: an idle database never holds a process open,
 * and a query awaited with nothing else running is never cut short.
 */
export class DatabaseThread {
  readonly #worker: Worker;
  readonly #onFailure: ThreadFailureHandler;
  readonly #pending = new Map<number, { resolve: (done: Done) => void; reject: (error: Error) => void }>();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #nextId = 1;
  /** Why no request can be made any more: closed, or the thread died. */
  #stopped: Error | undefined;
  #closing: Promise<void> | undefined;

  private constructor(worker: Worker, onFailure: ThreadFailureHandler) {
    this.#worker = worker;
    this.#onFailure = onFailure;
    worker.on('message', (message: FromDatabaseThread) => this.#receive(message));
    worker.on('error', (error) => this.#died(error));
    worker.on('exit', (code) => this.#died(new Error(`exit code ${code}`)));
    worker.unref();
  }

  /** Starts the thread and waits until PGlite is open (rejects with PGlite's error if it fails). */
  static async start(init: DatabaseThreadInit, onFailure = throwUncaught): Promise<DatabaseThread> {
    const worker = new Worker(new URL('./pglite-thread-entry.ts', import.meta.url), { workerData: init });
    await new Promise<void>((resolve, reject) => {
      const exited = (code: number) =>
        reject(new Error(`the embedded database thread stopped while starting (exit code ${code})`));
      worker.once('error', reject);
      worker.once('exit', exited);
      worker.once('message', (message: FromDatabaseThread) => {
        if (message.kind !== 'ready') return reject(new Error(`unexpected ${message.kind} from the thread`));
        worker.off('error', reject);
        worker.off('exit', exited);
        resolve();
      });
    });
    return new DatabaseThread(worker, onFailure);
  }

  request(message: Request, transfer: MessagePort[] = [], id = this.#nextId++): Promise<Done> {
    if (this.#stopped) return Promise.reject(new Error(this.#stopped.message, { cause: this.#stopped }));
    const { promise, resolve, reject } = Promise.withResolvers<Done>();
    this.#pending.set(id, { resolve, reject });
    if (this.#pending.size === 1) this.#worker.ref();
    try {
      this.#worker.postMessage({ ...message, id }, transfer);
    } catch (error) {
      // A parameter that cannot be cloned (a function, a class instance with private state).
      this.#settle(id);
      throw error;
    }
    return promise;
  }

  /** NOTIFY payloads on `channel`, from the thread's LISTEN; returns a function that stops. */
  async listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
    // The id names the listener: registered before asking, so no early NOTIFY is lost.
    const id = this.#nextId++;
    this.#listeners.set(id, onMessage);
    try {
      await this.request({ kind: 'listen', channel }, [], id);
    } catch (error) {
      this.#listeners.delete(id);
      throw error;
    }
    return async () => {
      this.#listeners.delete(id);
      // After close there is nothing left to stop.
      if (!this.#stopped) await this.request({ kind: 'unlisten', listener: id }).catch(() => {});
    };
  }

  /** Runs `module` in the thread (see DatabaseThreadContext); resolves with a port to it. */
  async attach(module: URL, data: unknown): Promise<MessagePort> {
    const { port1, port2 } = new MessageChannel();
    try {
      await this.request({ kind: 'attach', module: module.href, port: port2, data }, [port2]);
    } catch (error) {
      port1.close();
      throw error;
    }
    return port1;
  }

  /** Closes PGlite in the thread, then stops the thread; requests still waiting are refused. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#stopped) return;
      // Until the thread has ended, even with nothing else running.
      this.#worker.ref();
      try {
        await this.request({ kind: 'close' });
      } finally {
        this.#stop(new Error('the embedded database is closed'));
        await this.#worker.terminate();
      }
    })();
    return this.#closing;
  }

  #receive(message: FromDatabaseThread): void {
    if (message.kind === 'notify') {
      this.#listeners.get(message.listener)?.(message.payload);
    } else if (message.kind === 'done') {
      this.#settle(message.id)?.resolve(message);
    } else if (message.kind === 'failed') {
      this.#settle(message.id)?.reject(fromErrorFields(message.error));
    }
  }

  #settle(id: number) {
    const waiting = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0 && !this.#closing) this.#worker.unref();
    return waiting;
  }

  #stop(reason: Error): void {
    this.#stopped ??= reason;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(reason);
    this.#listeners.clear();
  }

  #died(cause: Error): void {
    if (this.#stopped) return;
    const error = new Error(`the embedded database thread stopped unexpectedly (${cause.message})`, {
      cause,
    });
    this.#stop(error);
    this.#onFailure(error);
  }
}
