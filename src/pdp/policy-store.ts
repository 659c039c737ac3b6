import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DatabaseHandle,
  POLICY_CHANNEL,
  policyVersionQueries,
  takeAdvisoryLock,
  watchChannel,
} from '../db/index.ts';
import { compilePolicySet } from './compile.ts';
import type { CompiledPolicySet } from './policy-set.ts';
import { runPolicyTests } from './policy-tests.ts';
import { formatProblem } from './problems.ts';
import type { PolicyFile, PolicyProblem, PolicyTestResult } from './types.ts';

export type PushOutcome =
  | { ok: true; version: number; resources: string[] }
  | { ok: false; problems: PolicyProblem[]; failures: PolicyTestResult[] };

export interface PolicyVersionSummary {
  version: number;
  resources: string[];
  created_by: string;
  created_at: string;
  current: boolean;
}

/**
 * The versioned policy sets in the database and the one this instance decides with. A set is
 * stored only if it compiles and its own tests pass; every instance switches to a new version
 * within a second (NOTIFY, and polling as a safety net). Callers read `current` once per
 * request, so a request in flight finishes on the version it started with.
 */
export class PolicyStore {
  readonly #db: DatabaseHandle;
  readonly #queries: ReturnType<typeof policyVersionQueries>;
  readonly #pollMs: number;
  #current: CompiledPolicySet;
  #unwatch: (() => Promise<void>) | undefined;
  #loading: Promise<void> | undefined;

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#db = db;
    this.#queries = policyVersionQueries(db.db);
    this.#pollMs = options.pollMs;
    const empty = compilePolicySet([], 0);
    if (!empty.ok) throw new Error('an empty policy set must compile');
    this.#current = empty.set;
  }

  /** The set in force; default deny for everything until a version is loaded. */
  get current(): CompiledPolicySet {
    return this.#current;
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    await this.refresh();
    this.#unwatch = await watchChannel(this.#db, POLICY_CHANNEL, {
      pollMs: this.#pollMs,
      refresh: () => this.refresh(),
      onError,
    });
  }

  async stop(): Promise<void> {
    await this.#unwatch?.();
  }

  /** Loads the newest stored version if it is newer than the one in force. */
  refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /** Validates, tests and stores a new version; an invalid set never replaces a valid one. */
  async push(files: PolicyFile[], createdBy: string): Promise<PushOutcome> {
    const checked = this.check(files);
    if (!checked.ok) return checked;
    const version = await this.#queries.insert({ files, resources: checked.resources, createdBy });
    await this.refresh();
    return { ok: true, version, resources: checked.resources };
  }

  /** Compiles and runs the set's tests without storing anything. */
  check(files: PolicyFile[]): PushOutcome {
    const candidate = this.candidate(files);
    return candidate.ok ? { ok: true, version: 0, resources: candidate.set.resources() } : candidate;
  }

  /** The set as it would be pushed (compiled, its tests passed), to preview before storing it. */
  candidate(files: PolicyFile[]): { ok: true; set: CompiledPolicySet } | Extract<PushOutcome, { ok: false }> {
    const compiled = compilePolicySet(files, 0);
    if (!compiled.ok) return { ok: false, problems: compiled.problems, failures: [] };
    const failures = runPolicyTests(compiled.set, compiled.tests).filter((r) => !r.passed);
    if (failures.length > 0) return { ok: false, problems: [], failures };
    return { ok: true, set: compiled.set };
  }

  async list(limit = 50): Promise<PolicyVersionSummary[]> {
    return (await this.#queries.list(limit)).map((row) => ({
      version: row.version,
      resources: row.resources,
      created_by: row.created_by,
      created_at: row.created_at.toISOString(),
      current: row.version === this.#current.version,
    }));
  }

  /**
   * On a database without any policy version, stores the set in `dir` (POLICY_DIR). Instances
   * starting together seed once (advisory lock). An invalid directory is a start-up error.
   */
  async seedFrom(dir: string): Promise<number | undefined> {
    const files = await readPolicyDir(dir);
    if (files.length === 0) return undefined;
    return this.#db.db.transaction().execute(async (trx) => {
      await takeAdvisoryLock(trx, 'policySeed');
      if ((await policyVersionQueries(trx).latestVersion()) !== undefined) return undefined;
      const checked = this.check(files);
      if (!checked.ok) throw new PolicySetRejected(dir, checked);
      return policyVersionQueries(trx).insert({
        files,
        resources: checked.resources,
        createdBy: `POLICY_DIR ${dir}`,
      });
    });
  }

  async #load(): Promise<void> {
    const latest = await this.#queries.latestVersion();
    if (latest === undefined || latest <= this.#current.version) return;
    const row = await this.#queries.get(latest);
    if (!row) return;
    const compiled = compilePolicySet(row.files, row.version);
    if (!compiled.ok) {
      throw new Error(
        `stored policy version ${row.version} does not compile; keeping version ${this.#current.version}`,
      );
    }
    this.#current = compiled.set;
  }
}

/** A policy set that failed validation or its tests, with every problem. */
export class PolicySetRejected extends Error {
  readonly outcome: Extract<PushOutcome, { ok: false }>;

  constructor(source: string, outcome: Extract<PushOutcome, { ok: false }>) {
    const lines = [
      ...outcome.problems.map(formatProblem),
      ...outcome.failures.map(
        (f) =>
          `${f.case.file} "${f.case.name}": expected ${f.case.expect}, got ${f.actual.allow ? 'allow' : 'deny'} (${f.actual.reason})`,
      ),
    ];
    super(`policy set in ${source} rejected:\n${lines.join('\n')}`);
    this.name = 'PolicySetRejected';
    this.outcome = outcome;
  }
}

/** Every `*.yaml`/`*.yml` file of a policy directory (tests included), sorted by name. */
export async function readPolicyDir(dir: string): Promise<PolicyFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files = names.filter((n) => /\.ya?ml$/.test(n)).sort();
  return Promise.all(files.map(async (name) => ({ name, content: await readFile(join(dir, name), 'utf8') })));
}
