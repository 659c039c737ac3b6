/** One started component's way back: what to call to stop it, and a name for the log. */
interface Stopper {
  name: string;
  stop: () => void | Promise<void>;
}

/**
 * What start-up has started, so shutdown can undo it in reverse order: a component stops only
 * after everything built on it (the HTTP server before the followers it reads, the audit writer
 * before the database it writes to). Start-up registers each component right after starting
 * it, so the order cannot drift from the code that builds them.
 */
export class Lifecycle {
  readonly #stoppers: Stopper[] = [];
  #closed = false;

  /** Registers how to stop what was just started; returns `value` for inline use. */
  started<T>(value: T, name: string, stop: () => void | Promise<void>): T {
    if (this.#closed) throw new Error(`${name} started after shutdown began`);
    this.#stoppers.push({ name, stop });
    return value;
  }

  /** The names registered so far, in start order. */
  names(): string[] {
    return this.#stoppers.map((s) => s.name);
  }

  /**
   * Stops everything, last started first. A failing stop does not keep the others from
   * running: the first failure is thrown once all have run (several as an AggregateError).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const failures: unknown[] = [];
    for (const stopper of this.#stoppers.splice(0).reverse()) {
      try {
        await stopper.stop();
      } catch (error) {
        failures.push(new Error(`stopping ${stopper.name} failed`, { cause: error }));
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'stopping several components failed');
  }
}
