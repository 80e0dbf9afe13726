/**
 * The Mageflow client: registers tasks, composes signatures, chains and swarms,
 * and controls them. One per process.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { TSchema } from 'typebox';
import { resolveConfig, type MageflowConfig, type ResolvedConfig } from './config';
import {
  InvalidArgumentError,
  SignatureLockedError,
  SignatureNotFoundError,
  SwarmIsCanceledError,
  SwarmIsClosedError,
  TaskCanceledError,
  TaskFailedError,
  TooManyTasksError,
  UnrecognizedTaskError,
  WaitTimeoutError,
} from './errors';
import { InProcessEngine } from './inprocess/in-process-engine';
import { MemoryStore } from './memory/memory-store';
import type { SignatureRecord, SwarmConfig } from './model/record';
import { KINDS, STATUSES, type Kind, type Status } from './model/status';
import type { Engine } from './ports/engine';
import type { AuditEntry, Store, SwarmCounts } from './ports/store';
import { startSignature } from './runtime/dispatch';
import { deleteTree, operate, type RemoveOptions, type UserOperation } from './runtime/lifecycle';
import { sweep, type SweepOptions, type SweepReport } from './runtime/recovery';
import { staggerExecution, TaskRegistry, withCtx, withSignature, type TaskFn, type TaskOptions } from './runtime/registry';
import { Runtime, sleep } from './runtime/runtime';
import { outcomeOf } from './runtime/settle';
import { fillSwarm, checkSwarmEnd } from './runtime/swarm';
import { makeHandler } from './runtime/task-runner';
import { ChainSignature, memberSpec, Signature, SwarmSignature, TaskSignature, type AddTasksOptions, type RunOptions } from './signature';

export interface MageflowOptions {
  /** runs the tasks. Default: an in-process engine. */
  engine?: Engine;
  /** keeps the signatures. Default: an in-memory store. */
  store?: Store;
  config?: MageflowConfig;
}

/** A registered task; usable wherever a task name is. */
export interface TaskHandle<I = unknown, O = unknown> {
  readonly name: string;
  readonly options: TaskOptions;
  /** signs it: `mf.sign(handle, options)`. */
  sign(options?: SignOptions): Promise<TaskSignature>;
  /** signs it with no options and runs it, waiting for the result. */
  run(message?: I, options?: RunOptions): Promise<O>;
  /** signs it and starts it; returns the signature. */
  runNoWait(message?: I): Promise<TaskSignature>;
}

/** Anything that can stand for a signature: a task name or handle, a signature, or a signature key. */
export type SignatureInput = string | TaskHandle<any, any> | Signature;
/** A member of a chain or swarm: a signature input, or a task with its sign options. */
export type MemberInput = SignatureInput | ({ task: string | TaskHandle<any, any> } & SignOptions);
type OneOrMany<T> = T | readonly T[];

export interface SignOptions {
  /** parameters bound to the task; merged over the message, winning on conflict. */
  kwargs?: Record<string, unknown>;
  successCallbacks?: readonly SignatureInput[];
  errorCallbacks?: readonly SignatureInput[];
  /** the input schema of a task registered in another process. */
  inputSchema?: TSchema;
  status?: Status;
  creationTime?: Date | number;
}

export interface ChainOptions {
  name?: string;
  success?: OneOrMany<SignatureInput>;
  error?: OneOrMany<SignatureInput>;
  /** merged over the message the first member receives. */
  kwargs?: Record<string, unknown>;
}

export interface SwarmOptions {
  name?: string;
  config?: Partial<SwarmConfig>;
  success?: OneOrMany<SignatureInput>;
  error?: OneOrMany<SignatureInput>;
  /** merged over the swarm's message for every member (members' own kwargs win). */
  kwargs?: Record<string, unknown>;
}

export interface LockOptions {
  /** the lease: the lock lapses this long after its last renewal if its holder dies. */
  leaseMs?: number;
}

export interface Lock {
  readonly key: string;
  readonly holder: string;
  release(): Promise<void>;
}

const KEY_PATTERN = /^(task|chain|swarm):[0-9a-f-]{36}$/;
const CREATE_BATCH = 500;

export class Mageflow {
  readonly store: Store;
  readonly engine: Engine;
  readonly config: ResolvedConfig;
  readonly workerId: string;
  /** @internal */
  readonly internals: Internals;
  private readonly registry = new TaskRegistry();
  private readonly runtime: Runtime;
  private worker: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(options: MageflowOptions = {}) {
    this.config = resolveConfig(options.config);
    this.store = options.store ?? new MemoryStore();
    this.engine = options.engine ?? new InProcessEngine();
    if (this.store.namespace) this.engine.useNamespace?.(this.store.namespace);
    this.workerId = options.config?.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.runtime = new Runtime(this.store, this.engine, this.config, this.registry, this.workerId);
    this.internals = new Internals(this, this.runtime);
  }

  // --- tasks ------------------------------------------------------------------

  /** Registers a task. `fn(input)`, `fn(input, ctx)` or `fn(ctx)` as `paramConfig` (or `withCtx`) says. */
  task<I = any, O = any>(name: string, fn: (input: I, ...rest: any[]) => O | Promise<O>, options: TaskOptions = {}): TaskHandle<I, Awaited<O>> {
    if (!name) throw new InvalidArgumentError('a task needs a name');
    if (this.registry.isLocal(name)) throw new InvalidArgumentError(`task "${name}" is already registered`);
    const task = this.registry.add(name, fn as TaskFn, options);
    const stagger = task.marks.staggerMs ?? 0;
    this.engine.register({
      name,
      retries: options.retries ?? 0,
      timeoutMs: options.timeoutMs === undefined ? undefined : options.timeoutMs + stagger,
      concurrency: options.concurrency,
      priority: options.priority,
      handler: makeHandler(this.runtime, task, (record) => this.internals.wrap(record)),
    });
    const handle: TaskHandle<I, Awaited<O>> = {
      name,
      options,
      sign: (signOptions) => this.sign(handle, signOptions),
      run: (message, runOptions) => this.sign(handle).then((s) => s.run(message, runOptions)) as Promise<Awaited<O>>,
      runNoWait: async (message) => {
        const signature = await this.sign(handle);
        await signature.runNoWait(message);
        return signature;
      },
    };
    return handle;
  }

  readonly withCtx = withCtx;
  readonly withSignature = withSignature;
  readonly staggerExecution = staggerExecution;

  // --- composition ---------------------------------------------------------------

  /** A signature: a task with bound kwargs and callbacks. */
  async sign(task: string | TaskHandle<any, any>, options: SignOptions = {}): Promise<TaskSignature> {
    const [record] = await this.internals.prepare([{ task, options }], undefined);
    await this.internals.create(record!.created, { track: true });
    return this.internals.wrap(record!.record) as TaskSignature;
  }

  /** Members run in order, each result handed to the next. At least two members. */
  async chain(members: readonly MemberInput[], options: ChainOptions = {}): Promise<ChainSignature> {
    if (members.length < 2) throw new InvalidArgumentError(`a chain needs at least 2 members, got ${members.length}`);
    const key = newKey('chain');
    const prepared = await this.internals.prepare(members.map(memberSpec), { key, kind: 'chain' });
    const callbacks = await this.internals.callbacks(options.success, options.error);
    const record: SignatureRecord = {
      ...baseRecord(key, 'chain', 'mageflow.chain', options.kwargs ?? {}),
      ...(options.name ? { name: options.name } : {}),
      ...callbacks,
      members: prepared.map((p) => p.record.key),
      cursor: 0,
    };
    await this.internals.create([...prepared.flatMap((p) => p.created), ...callbacks.created, record], { track: true });
    return this.internals.wrap(record) as ChainSignature;
  }

  /** Members run in parallel, at most `maxConcurrency` at once; members can be added while it runs. */
  async swarm(members: readonly MemberInput[] = [], options: SwarmOptions = {}): Promise<SwarmSignature> {
    const config: SwarmConfig = { maxConcurrency: 30, ...stripUndefined(options.config ?? {}) };
    for (const [field, value] of Object.entries(config)) {
      if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`swarm config ${field} must be a positive integer, got ${value}`);
    }
    if (config.maxTaskAllowed !== undefined && members.length > config.maxTaskAllowed) {
      throw new TooManyTasksError(`swarm of ${members.length} members exceeds maxTaskAllowed ${config.maxTaskAllowed}`);
    }
    const key = newKey('swarm');
    const callbacks = await this.internals.callbacks(options.success, options.error);
    const record: SignatureRecord = {
      ...baseRecord(key, 'swarm', 'mageflow.swarm', options.kwargs ?? {}),
      ...(options.name ? { name: options.name } : {}),
      successCallbacks: callbacks.successCallbacks,
      errorCallbacks: callbacks.errorCallbacks,
      swarm: config,
    };
    await this.internals.create([...callbacks.created, record], { track: true });
    await this.store.swarmAdd(key, [], { ttlSec: this.runtime.ttl('swarm', 'active') });
    if (members.length > 0) await this.internals.addToSwarm(key, members.map(memberSpec), {});
    return this.internals.wrap(await this.internals.load(key)) as SwarmSignature;
  }

  // --- by key ------------------------------------------------------------------------

  /** The stored signature, or null. */
  async load(key: string): Promise<Signature | null> {
    const record = await this.store.getRecord(key);
    return record ? this.internals.wrap(record) : null;
  }

  async runNoWait(key: string, message?: unknown): Promise<void> {
    await this.ensureWorker();
    await startSignature(this.runtime, key, message, 'user');
  }

  async waitFor(key: string, options: RunOptions = {}): Promise<unknown> {
    return this.internals.waitFor(key, options);
  }

  suspend = (key: string) => this.internals.operate(key, 'suspend').then(() => undefined);
  interrupt = (key: string) => this.internals.operate(key, 'interrupt').then(() => undefined);
  resume = (key: string) => this.internals.operate(key, 'resume').then(() => undefined);
  /** suspend (default) or interrupt, by key. */
  pause = (key: string, type: 'suspend' | 'interrupt' = 'suspend') => this.internals.operate(key, type).then(() => undefined);
  remove = (key: string, options: RemoveOptions = {}) => this.internals.operate(key, 'remove', options).then(() => undefined);
  cancel = async (key: string, options: { confirm?: boolean } = {}) => {
    const signature = await this.load(key);
    if (!signature) throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
    await signature.cancel(options);
  };

  /** Deletes a signature with its members and callbacks now, without the deletion window. */
  async delete(key: string): Promise<void> {
    await deleteTree(this.runtime, await this.internals.load(key), 'delete');
  }

  /**
   * Locks a signature: while held, no status change or deletion of it succeeds.
   * User calls fail with SignatureLockedError; runtime steps wait up to `lockWaitMs`.
   * With a function, the lock is renewed while it runs and released after.
   */
  async lock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  async lock(key: string, options?: LockOptions): Promise<Lock>;
  async lock<T>(key: string, fnOrOptions?: (() => Promise<T>) | LockOptions, maybeOptions?: LockOptions): Promise<T | Lock> {
    const options = typeof fnOrOptions === 'function' ? maybeOptions ?? {} : fnOrOptions ?? {};
    const leaseMs = options.leaseMs ?? this.config.lockLeaseMs;
    await this.internals.load(key);
    const holder = `${this.workerId}:${randomUUID()}`;
    if (!(await this.store.lock(key, holder, leaseMs))) throw new SignatureLockedError(`"${key}" is locked by another holder`, { details: { key } });
    const renew = setInterval(() => void this.store.lock(key, holder, leaseMs).catch(() => undefined), Math.max(10, leaseMs / 3));
    renew.unref();
    const lock: Lock = { key, holder, release: async () => (clearInterval(renew), this.store.unlock(key, holder)) };
    if (typeof fnOrOptions !== 'function') return lock;
    try {
      return await fnOrOptions();
    } finally {
      await lock.release();
    }
  }

  /** What cancel() and the cleanup job recorded about a key. */
  async auditLog(key: string): Promise<AuditEntry[]> {
    return this.store.auditLog(key);
  }

  // --- the worker ----------------------------------------------------------------------

  /** Starts this process's worker: the engine takes runs, a heartbeat marks it alive, sweeps recover lost work. */
  async start(): Promise<void> {
    this.worker ??= this.startWorker();
    return this.worker;
  }

  /** Finds work lost by dead workers and finishes it; deletes expired signatures. Returns what it did. */
  async recover(options: SweepOptions = {}): Promise<SweepReport> {
    return sweep(this.runtime, options);
  }

  /** Stops the worker (running attempts get the engine's grace period). */
  async stop(): Promise<void> {
    this.timers.forEach(clearInterval);
    this.timers = [];
    if (this.worker) await this.engine.stop();
    this.worker = undefined;
  }

  /** Stops the worker and closes the store. */
  async close(): Promise<void> {
    await this.stop();
    await this.store.close();
  }

  /** An in-process engine runs nothing until its worker starts: start it on first use. */
  private async ensureWorker(): Promise<void> {
    if (this.engine.inProcess) await this.start();
  }

  private async startWorker(): Promise<void> {
    const beat = () => this.store.heartbeat(this.workerId, this.config.workerTtlMs);
    await beat();
    this.timers.push(every(this.config.heartbeatMs, () => beat().catch((e) => this.config.logger.warn('heartbeat failed', { error: String(e) }))));
    const sweepNow = (options: SweepOptions) =>
      sweep(this.runtime, options).catch((error) => this.config.logger.warn('sweep failed', { error: String(error) }));
    // The startup sweep treats runs stamped with this worker's id as left by its
    // previous life, so it must finish before this life takes any run.
    if (this.config.recoverOnStart) await sweepNow({ startup: true });
    await this.engine.start();
    if (this.config.sweepEveryMs !== false) this.timers.push(every(this.config.sweepEveryMs, () => sweepNow({})));
  }
}

/** The parts of the client that handles and tests use; not part of the public API. */
export class Internals {
  constructor(
    private readonly mf: Mageflow,
    readonly runtime: Runtime,
  ) {}

  load(key: string) {
    return this.runtime.load(key);
  }

  wrap(record: SignatureRecord): Signature {
    if (record.kind === 'chain') return new ChainSignature(this.mf, record);
    if (record.kind === 'swarm') return new SwarmSignature(this.mf, record);
    return new TaskSignature(this.mf, record);
  }

  async operate(key: string, op: UserOperation, options: RemoveOptions = {}): Promise<SignatureRecord> {
    if (op === 'resume') await (this.mf as unknown as { ensureWorker(): Promise<void> }).ensureWorker();
    const record = await operate(this.runtime, key, op, options);
    return (await this.runtime.store.getRecord(key)) ?? record;
  }

  /** Stores new records in batches, each kind with its own active TTL. */
  async create(records: SignatureRecord[], options: { track: boolean; batchSize?: number }): Promise<void> {
    const batch = options.batchSize ?? CREATE_BATCH;
    for (const kind of KINDS) {
      const group = records.filter((r) => r.kind === kind);
      for (let i = 0; i < group.length; i += batch) {
        await this.runtime.store.createRecords(group.slice(i, i + batch), { ttlSec: this.runtime.ttl(kind, 'active'), track: options.track });
      }
    }
  }

  /** Resolves callbacks, creating records for names and handles. */
  async callbacks(success: OneOrMany<SignatureInput> | undefined, error: OneOrMany<SignatureInput> | undefined) {
    const list = (v: OneOrMany<SignatureInput> | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v as SignatureInput]);
    const ok = await this.prepare(list(success).map((task) => ({ task, options: {} })), undefined);
    const bad = await this.prepare(list(error).map((task) => ({ task, options: {} })), undefined);
    return {
      successCallbacks: ok.map((p) => p.record.key),
      errorCallbacks: bad.map((p) => p.record.key),
      created: [...ok, ...bad].flatMap((p) => p.created),
    };
  }

  /**
   * Turns inputs into records without storing anything: new records for names and
   * handles (with their callbacks), existing signatures adopted into `parent`.
   * Validation happens here, so a bad input stores nothing.
   */
  async prepare(inputs: readonly { task: SignatureInput; options: SignOptions }[], parent: { key: string; kind: Kind } | undefined) {
    const out: { record: SignatureRecord; created: SignatureRecord[]; adopted?: true }[] = [];
    for (const { task, options } of inputs) {
      if (task instanceof Signature || (typeof task === 'string' && KEY_PATTERN.test(task))) {
        const key = typeof task === 'string' ? task : task.key;
        out.push({ record: await this.adopt(key, parent), created: [], ...(parent ? { adopted: true as const } : {}) });
        continue;
      }
      const name = typeof task === 'string' ? task : task.name;
      const registry = this.runtime.registry;
      let registered = registry.get(name);
      if (options.inputSchema) registered = registry.isLocal(name) ? registered : registry.addForeign(name, options.inputSchema);
      if (!registered) throw new UnrecognizedTaskError(`no task "${name}" is registered; register it with mf.task() or pass inputSchema`, { details: { task: name } });
      const kwargs = options.kwargs ?? {};
      registered.validateKwargs(kwargs);
      if (options.status !== undefined && !STATUSES.includes(options.status)) throw new InvalidArgumentError(`unknown status "${options.status}"`);
      const callbacks = await this.callbacks(options.successCallbacks, options.errorCallbacks);
      const record: SignatureRecord = {
        ...baseRecord(newKey('task'), 'task', name, kwargs),
        successCallbacks: callbacks.successCallbacks,
        errorCallbacks: callbacks.errorCallbacks,
        ...(options.status ? { status: options.status } : {}),
        ...(options.creationTime !== undefined ? { creationTime: new Date(options.creationTime).getTime() } : {}),
        ...(parent ? { parent: parent.key } : {}),
      };
      out.push({ record, created: [...callbacks.created, record] });
    }
    return out;
  }

  /** An existing signature becomes a member of `parent`: only while it is pending and nobody's member. */
  private async adopt(key: string, parent: { key: string; kind: Kind } | undefined): Promise<SignatureRecord> {
    const record = await this.load(key);
    if (!parent) return record;
    // A swarm member is found through its swarm, never through the open index.
    const adopted = await this.runtime.store.updateRecord(key, {
      expect: { status: ['pending'], dispatchedAt: null, parent: null },
      set: { parent: parent.key },
      untrack: parent.kind === 'swarm',
    });
    if (!adopted.ok) {
      throw new InvalidArgumentError(`"${key}" cannot join a container: it is ${record.status}${record.parent ? ` and already in ${record.parent}` : ''}`);
    }
    return adopted.record;
  }

  /** Undoes adoptions when the container refused the members: they are on their own again. */
  private async release(keys: readonly string[], parent: string): Promise<void> {
    for (const key of keys) await this.runtime.store.updateRecord(key, { expect: { parent }, unset: ['parent'], track: true });
  }

  async addToSwarm(swarmKey: string, inputs: readonly { task: SignatureInput; options: SignOptions }[], options: AddTasksOptions): Promise<string[]> {
    const swarm = await this.runtime.store.getRecord(swarmKey);
    if (!swarm) {
      const canceled = (await this.runtime.store.auditLog(swarmKey)).some((e) => e.action === 'cancel');
      if (canceled) throw new SwarmIsCanceledError(`swarm "${swarmKey}" was canceled`, { details: { key: swarmKey } });
      throw new SignatureNotFoundError(`no swarm is stored under "${swarmKey}"`, { details: { key: swarmKey } });
    }
    if (swarm.kind !== 'swarm') throw new InvalidArgumentError(`"${swarmKey}" is a ${swarm.kind}, not a swarm`);
    if (swarm.status === 'canceled') throw new SwarmIsCanceledError(`swarm "${swarmKey}" was canceled`);
    if (!['pending', 'active', 'suspended', 'interrupted'].includes(swarm.status)) {
      throw new SwarmIsClosedError(`swarm "${swarmKey}" is ${swarm.status}; no member can be added`);
    }
    const max = swarm.swarm?.maxTaskAllowed;
    const counts = await this.runtime.store.swarmCounts(swarmKey);
    if (max !== undefined && counts.total + inputs.length > max) {
      throw new TooManyTasksError(`swarm "${swarmKey}" allows ${max} members; it has ${counts.total} and ${inputs.length} more were added`);
    }
    if (counts.closed) throw new SwarmIsClosedError(`swarm "${swarmKey}" is closed`);
    const prepared = await this.prepare(inputs, { key: swarmKey, kind: 'swarm' }); // validates every input before anything is stored
    const created = prepared.flatMap((p) => p.created);
    await this.create(created.filter((r) => r.parent !== swarmKey), { track: true }); // the members' callbacks
    await this.create(created.filter((r) => r.parent === swarmKey), { track: false, batchSize: options.batchSize });
    const keys = prepared.map((p) => p.record.key);
    const added = await this.runtime.store.swarmAdd(swarmKey, keys, { maxTaskAllowed: max, ttlSec: this.runtime.ttl('swarm', 'active') });
    if (!added.ok) {
      // all or none: what was created goes, what was adopted is released
      await this.runtime.store.deleteRecords(created.map((r) => r.key));
      await this.release(prepared.filter((p) => p.adopted).map((p) => p.record.key), swarmKey);
      // a swarm that closed by reaching maxTaskAllowed refuses as "too many", as the early check does
      const full = added.reason === 'too_many' || (max !== undefined && added.counts.total >= max);
      if (full) throw new TooManyTasksError(`swarm "${swarmKey}" allows ${max} members`);
      throw new SwarmIsClosedError(`swarm "${swarmKey}" is closed`);
    }
    const current = await this.runtime.load(swarmKey);
    if (current.status === 'active') await fillSwarm(this.runtime, current);
    return keys;
  }

  async closeSwarm(swarmKey: string): Promise<SwarmCounts> {
    const swarm = await this.runtime.load(swarmKey);
    const counts = await this.runtime.store.swarmClose(swarmKey);
    await checkSwarmEnd(this.runtime, swarm, counts);
    return counts;
  }

  async waitFor(key: string, options: RunOptions): Promise<unknown> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let wake: () => void = () => {};
    const off = this.runtime.onEnd(key, () => wake());
    try {
      for (let pause = 5; ; pause = Math.min(250, pause * 2)) {
        const record = await this.runtime.store.getRecord(key);
        if (!record) {
          const canceled = (await this.runtime.store.auditLog(key)).some((e) => e.action === 'cancel');
          if (canceled) throw new TaskCanceledError(`"${key}" was canceled`, { details: { key } });
          throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
        }
        const outcome = outcomeOf(record);
        if (outcome === 'done') return record.result?.value;
        if (outcome === 'failed') {
          throw new TaskFailedError(`"${key}" failed: ${record.error?.message ?? 'unknown error'}`, { details: { key, error: record.error } });
        }
        if (Date.now() >= deadline) throw new WaitTimeoutError(`gave up waiting for "${key}" (${record.status})`, { details: { key, status: record.status } });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pause, Math.max(0, deadline - Date.now())));
          wake = () => (clearTimeout(timer), resolve());
        });
      }
    } finally {
      off();
    }
  }
}

function newKey(kind: Kind): string {
  return `${kind}:${randomUUID()}`;
}

function baseRecord(key: string, kind: Kind, taskName: string, kwargs: Record<string, unknown>): SignatureRecord {
  return { key, kind, taskName, kwargs, successCallbacks: [], errorCallbacks: [], status: 'pending', creationTime: Date.now() };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function every(ms: number, fn: () => unknown): NodeJS.Timeout {
  const timer = setInterval(fn, ms);
  timer.unref();
  return timer;
}

export { sleep };
