/**
 * The Mageflow client: registers tasks, composes signatures, chains and swarms,
 * and controls them. One per process.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { TSchema } from 'typebox';
import { CHAIN_OPTIONS, checkInput, checkKnownOptions, checkName, checkOptions, checkRunOptions, checkTaskOptions, checkTime, GRAPH_OPTIONS, show, SIGN_OPTIONS, storedKwargs, SWARM_OPTIONS } from './arguments';
import { resolveConfig, type MageflowConfig, type ResolvedConfig } from './config';
import {
  InvalidArgumentError,
  InvalidTransitionError,
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
import { isPriority, PRIORITIES, type Priority } from './model/priority';
import type { SignatureRecord, SwarmConfig } from './model/record';
import { checkListResults, readSwarmResults, type SwarmResultsHandle } from './runtime/swarm-results';
import { KINDS, type Kind, type Status } from './model/status';
import { decodeValue, encodeValue } from './model/values';
import { isPlainObject } from './runtime/message';
import type { Engine } from './ports/engine';
import type { AuditEntry, Store, SwarmCounts } from './ports/store';
import { startSignature } from './runtime/dispatch';
import { deleteTree, operate, type RemoveOptions, type UserOperation } from './runtime/lifecycle';
import { sweep, type SweepOptions, type SweepReport } from './runtime/recovery';
import { staggerExecution, TaskRegistry, withCtx, withSignature, type TaskFn, type TaskOptions } from './runtime/registry';
import { Runtime, sleep } from './runtime/runtime';
import { hasOwnCallbacks, outcomeOf } from './runtime/settle';
import { checkContainerEnd, fillContainer } from './runtime/container';
import { makeHandler } from './runtime/task-runner';
import { ChainSignature, GraphSignature, memberSpec, Signature, SwarmSignature, TaskSignature, type AddTasksOptions, type RunOptions } from './signature';
import { checkGraphShape, type GraphEdgeInput } from './model/graph-shape';
import type { ConditionFn } from './runtime/condition';
import { buildTree, type TreeNode, type TreeOptions } from './runtime/status-tree';
import { treeMermaid } from './mermaid';

/** `mf.tree()`'s result: the root node, and a diagram of it. */
export interface StatusTree extends TreeNode {
  /** the tree as a Mermaid flowchart. */
  toMermaid(): string;
}

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
/** A member of a chain, swarm or graph: a signature input, or one with sign options (an existing signature takes only `priority`). */
export type MemberInput = SignatureInput | ({ task: SignatureInput } & SignOptions);
type OneOrMany<T> = T | readonly T[];

export interface SignOptions {
  /** parameters bound to the task; merged over the message, winning on conflict. */
  kwargs?: Record<string, unknown>;
  successCallbacks?: readonly SignatureInput[];
  errorCallbacks?: readonly SignatureInput[];
  /** started once when it ends, however it ends (see the README's "Cleanup"). */
  cleanup?: OneOrMany<SignatureInput>;
  /** the input schema of a task registered in another process. */
  inputSchema?: TSchema;
  /**
   * Its priority: in a swarm's queue, the highest starts first when a slot frees; also
   * handed to engines that order their own queues (Hatchet, in-process). In a swarm,
   * default: the swarm's `config.defaultPriority`, or medium.
   */
  priority?: Priority;
  status?: Status;
  creationTime?: Date | number;
}

export interface ChainOptions {
  name?: string;
  success?: OneOrMany<SignatureInput>;
  error?: OneOrMany<SignatureInput>;
  /** started once when it ends, however it ends, after its members' cleanups. */
  cleanup?: OneOrMany<SignatureInput>;
  /** merged over the message the first member receives. */
  kwargs?: Record<string, unknown>;
}

export interface SwarmOptions {
  name?: string;
  config?: Partial<SwarmConfig>;
  success?: OneOrMany<SignatureInput>;
  error?: OneOrMany<SignatureInput>;
  /** started once when it ends, however it ends, after its members' cleanups. */
  cleanup?: OneOrMany<SignatureInput>;
  /** tasks fired once for each member that succeeds, with `{ result, key, index }`, also for members added later. */
  memberSuccess?: OneOrMany<SignatureInput>;
  /** tasks fired once for each member that fails, with `{ error, input, key, index }`. */
  memberError?: OneOrMany<SignatureInput>;
  /** merged over the swarm's message for every member (members' own kwargs win). */
  kwargs?: Record<string, unknown>;
}

export interface GraphOptions {
  /** the nodes, by name: any member input (a task, a signature, a chain, a swarm, another graph). */
  nodes: Readonly<Record<string, MemberInput>>;
  /** edges between node names; see the README's "Graphs". */
  edges?: readonly GraphEdgeInput[];
  /** the nodes that start. Default: every node without an incoming edge. */
  entry?: OneOrMany<string>;
  name?: string;
  success?: OneOrMany<SignatureInput>;
  error?: OneOrMany<SignatureInput>;
  /** started once when it ends, however it ends, after its nodes' cleanups. */
  cleanup?: OneOrMany<SignatureInput>;
  /** merged over the message the entry nodes receive. */
  kwargs?: Record<string, unknown>;
  /** nodes running at once, at most. Default 30. */
  maxConcurrency?: number;
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

const KEY_PATTERN = /^(task|chain|swarm|graph):[0-9a-f-]{36}$/;
/** The statuses a new signature may be created in: it either runs when started or waits for resume(). */
const STARTING_STATUSES: readonly Status[] = ['pending', 'suspended'];

/** A record ready to store, or an existing signature to adopt into a container. */
interface Prepared {
  record: SignatureRecord;
  /** records to create: the signature and its callbacks. */
  created: SignatureRecord[];
  /** an existing signature, adopted into the container on commit. */
  adopt?: true;
  /** its priority before the adoption gave it another (null: none), restored if the adoption is undone. */
  priorPriority?: Priority | null;
  /** existing signatures that become cleanups (of `owner`) on commit. */
  cleanupAdoptions?: { key: string; owner: string }[];
}
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
    if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`a task needs a name, got ${show(name)}`);
    if (typeof fn !== 'function') throw new InvalidArgumentError(`task "${name}" needs a function, got ${show(fn)}`);
    checkOptions(options, `options of task "${name}"`);
    checkTaskOptions(name, options);
    if (this.registry.isLocal(name)) throw new InvalidArgumentError(`task "${name}" is already registered`);
    const task = this.registry.describe(name, fn as TaskFn, options);
    const stagger = task.marks.staggerMs ?? 0;
    this.engine.register({
      name,
      retries: options.retries ?? 0,
      timeoutMs: options.timeoutMs === undefined ? undefined : options.timeoutMs + stagger,
      concurrency: options.concurrency,
      priority: options.priority,
      handler: makeHandler(this.runtime, task, (record) => this.internals.wrap(record)),
    });
    this.registry.register(task); // only once the engine took it: a refused task is not half-registered
    const handle: TaskHandle<I, Awaited<O>> = {
      name,
      options,
      sign: (signOptions) => this.sign(handle, signOptions),
      // The message is checked before the signature is stored: a refused message leaves nothing behind.
      run: async (message?: I, runOptions?: RunOptions): Promise<Awaited<O>> => {
        encodeValue(message, 'the message');
        checkRunOptions(runOptions);
        const signature = await this.sign(handle);
        return (await signature.run(message, runOptions)) as Awaited<O>;
      },
      runNoWait: async (message) => {
        encodeValue(message, 'the message');
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
    checkInput(task, 'mf.sign(task)');
    checkOptions(options, 'mf.sign() options');
    const [prepared] = await this.internals.prepare([{ task, options }], undefined);
    await this.internals.commit([prepared!], undefined);
    return this.internals.wrap(prepared!.record) as TaskSignature;
  }

  /** Members run in order, each result handed to the next. At least two members. */
  async chain(members: readonly MemberInput[], options: ChainOptions = {}): Promise<ChainSignature> {
    if (!Array.isArray(members)) throw new InvalidArgumentError(`mf.chain() takes a list of members, got ${show(members)}`);
    if (members.length < 2) throw new InvalidArgumentError(`a chain needs at least 2 members, got ${members.length}`);
    checkOptions(options, 'mf.chain() options');
    checkKnownOptions(options, CHAIN_OPTIONS, 'mf.chain() options');
    const key = newKey('chain');
    const kwargs = storedKwargs(options.kwargs, 'the chain');
    const prepared = await this.internals.prepare(members.map((m, i) => memberSpec(m, `chain member ${i}`)), { key, kind: 'chain' });
    prepared.forEach((p, i) => (p.record.index = i));
    const callbacks = await this.internals.callbacks(key, options.success, options.error, options.cleanup, 'callback', adoptedKeys(prepared));
    const record: SignatureRecord = {
      ...baseRecord(key, 'chain', 'mageflow.chain', kwargs),
      ...(options.name !== undefined ? { name: checkName(options.name) } : {}),
      ...callbacks.keys,
      members: prepared.map((p) => p.record.key),
    };
    const all = [...prepared, ...callbacks.prepared, { record, created: [record], cleanupAdoptions: callbacks.adoptions }];
    await this.internals.commit(all, { key, kind: 'chain' });
    try {
      // A chain's members wait in its queue, like a swarm's: the queue is closed once they are in.
      await this.store.swarmAdd(key, record.members!, { maxTaskAllowed: members.length, ttlSec: this.runtime.ttl('chain', 'active') });
    } catch (error) {
      // all or none: what was created goes, what was adopted is released
      const adopted = prepared.filter((p) => p.adopt);
      await this.internals.rollback(all.flatMap((p) => p.created.map((r) => r.key)), adopted, key, callbacks.adoptions).catch(() => undefined);
      throw error;
    }
    return this.internals.wrap(record) as ChainSignature;
  }

  /** Members run in parallel, at most `maxConcurrency` at once; members can be added while it runs. */
  async swarm(members: readonly MemberInput[] = [], options: SwarmOptions = {}): Promise<SwarmSignature> {
    if (!Array.isArray(members)) throw new InvalidArgumentError(`mf.swarm() takes a list of members, got ${show(members)}`);
    checkOptions(options, 'mf.swarm() options');
    checkKnownOptions(options, SWARM_OPTIONS, 'mf.swarm() options');
    if (options.config !== undefined && (typeof options.config !== 'object' || options.config === null)) {
      throw new InvalidArgumentError(`swarm config must be an object, got ${show(options.config)}`);
    }
    const config: SwarmConfig = { maxConcurrency: 30, ...stripUndefined(options.config ?? {}) };
    for (const [field, value] of Object.entries(config)) {
      if (field === 'defaultPriority') {
        if (!isPriority(value)) throw new InvalidArgumentError(`swarm config defaultPriority must be one of ${PRIORITIES.join(', ')}, got ${show(value)}`);
        continue;
      }
      if (field === 'results') {
        if (value !== 'list' && value !== 'handle') throw new InvalidArgumentError(`swarm config results must be 'list' or 'handle', got ${show(value)}`);
        continue;
      }
      if (!['maxConcurrency', 'stopAfterNFailures', 'maxTaskAllowed'].includes(field)) throw new InvalidArgumentError(`unknown swarm config field "${field}"`);
      if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`swarm config ${field} must be a positive integer, got ${show(value)}`);
    }
    if (config.maxTaskAllowed !== undefined && members.length > config.maxTaskAllowed) {
      throw new TooManyTasksError(`swarm of ${members.length} members exceeds maxTaskAllowed ${config.maxTaskAllowed}`);
    }
    const key = newKey('swarm');
    checkListResults({ key, kind: 'swarm', swarm: config } as SignatureRecord, members.length, this.config.maxListResults);
    const kwargs = storedKwargs(options.kwargs, 'the swarm');
    // Everything is validated before the swarm is stored: a refused swarm leaves nothing behind.
    const specs = members.map((m, i) => memberSpec(m, `swarm member ${i}`));
    const prepared = await this.internals.prepare(specs, { key, kind: 'swarm' });
    const callbacks = await this.internals.callbacks(key, options.success, options.error, options.cleanup, 'callback', adoptedKeys(prepared));
    const onSuccess = await this.internals.memberTemplates(key, options.memberSuccess, 'memberSuccess');
    const onError = await this.internals.memberTemplates(key, options.memberError, 'memberError');
    const record: SignatureRecord = {
      ...baseRecord(key, 'swarm', 'mageflow.swarm', kwargs),
      ...(options.name !== undefined ? { name: checkName(options.name) } : {}),
      ...callbacks.keys,
      swarm: config,
      ...(onSuccess.length > 0 ? { memberSuccessCallbacks: onSuccess.map((p) => p.record.key) } : {}),
      ...(onError.length > 0 ? { memberErrorCallbacks: onError.map((p) => p.record.key) } : {}),
    };
    await this.internals.commit([...callbacks.prepared, ...onSuccess, ...onError, { record, created: [record], cleanupAdoptions: callbacks.adoptions }], undefined);
    try {
      await this.store.swarmAdd(key, [], { ttlSec: this.runtime.ttl('swarm', 'active') });
      if (prepared.length > 0) await this.internals.addPrepared(record, prepared, {});
    } catch (error) {
      // all or none: the swarm and its callbacks go too
      await this.internals.rollback([key, ...callbacks.prepared.flatMap((p) => p.created.map((r) => r.key))], [], key, callbacks.adoptions).catch(() => undefined);
      throw error;
    }
    return this.internals.wrap(await this.internals.load(key)) as SwarmSignature;
  }

  /**
   * Nodes (any signature) and edges between them, routed on the nodes' outputs: see
   * the README's "Graphs". The shape is checked before anything is stored
   * (`InvalidGraphError`: an unknown node, a cycle, a node the entry cannot reach, two
   * default edges from one node, a malformed condition).
   */
  async graph(options: GraphOptions): Promise<GraphSignature> {
    checkOptions(options, 'mf.graph() options');
    checkKnownOptions(options, GRAPH_OPTIONS, 'mf.graph() options');
    const nodes = options.nodes;
    if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) throw new InvalidArgumentError(`mf.graph() takes { nodes: { name: member, ... } }, got ${show(nodes)}`);
    const names = Object.keys(nodes);
    const entry = options.entry === undefined ? undefined : Array.isArray(options.entry) ? options.entry : [options.entry as string];
    const shape = checkGraphShape(names, options.edges ?? [], entry);
    const maxConcurrency = options.maxConcurrency ?? 30;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new InvalidArgumentError(`graph maxConcurrency must be a positive integer, got ${show(maxConcurrency)}`);
    const key = newKey('graph');
    const kwargs = storedKwargs(options.kwargs, 'the graph');
    const prepared = await this.internals.prepare(names.map((n) => memberSpec(nodes[n]!, `graph node "${n}"`)), { key, kind: 'graph' });
    prepared.forEach((p, i) => (p.record.index = i));
    const callbacks = await this.internals.callbacks(key, options.success, options.error, options.cleanup, 'callback', adoptedKeys(prepared));
    const record: SignatureRecord = {
      ...baseRecord(key, 'graph', 'mageflow.graph', kwargs),
      ...(options.name !== undefined ? { name: checkName(options.name) } : {}),
      ...callbacks.keys,
      members: prepared.map((p) => p.record.key),
      graph: { nodes: names, edges: shape.edges, maxConcurrency },
    };
    const all = [...prepared, ...callbacks.prepared, { record, created: [record], cleanupAdoptions: callbacks.adoptions }];
    await this.internals.commit(all, { key, kind: 'graph' });
    try {
      // The entry nodes wait in its queue; the others are queued as they become ready.
      await this.store.swarmAdd(key, shape.entries.map((i) => record.members![i]!), { ttlSec: this.runtime.ttl('graph', 'active') });
    } catch (error) {
      const adopted = prepared.filter((p) => p.adopt);
      await this.internals.rollback(all.flatMap((p) => p.created.map((r) => r.key)), adopted, key, callbacks.adoptions).catch(() => undefined);
      throw error;
    }
    return this.internals.wrap(record) as GraphSignature;
  }

  /**
   * Registers a named condition for graph edges (`when: { condition: name, args }`).
   * Register it in every worker, like a task: the worker that finishes an edge's source
   * node evaluates it, and a name it does not know fails the graph (`UnknownConditionError`).
   */
  condition(name: string, fn: ConditionFn): void {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`a condition needs a name, got ${show(name)}`);
    if (typeof fn !== 'function') throw new InvalidArgumentError(`condition "${name}" needs a function, got ${show(fn)}`);
    if (this.registry.conditions.has(name)) throw new InvalidArgumentError(`condition "${name}" is already registered`);
    this.registry.conditions.set(name, fn);
  }

  /**
   * The hierarchical status of a workflow: every node with its kind, name, status and
   * timings, containers with counts by status and a page of members (see `TreeOptions`).
   * `toMermaid()` on the result draws it.
   */
  async tree(key: string, options: TreeOptions = {}): Promise<StatusTree> {
    checkOptions(options, 'mf.tree() options');
    const root = await buildTree(this.runtime, key, options);
    return Object.defineProperty(root, 'toMermaid', { value: () => treeMermaid(root), enumerable: false }) as StatusTree;
  }

  // --- by key ------------------------------------------------------------------------

  /** The stored signature, or null. */
  async load(key: string): Promise<Signature | null> {
    const record = await this.store.getRecord(key);
    return record ? this.internals.wrap(record) : null;
  }

  async runNoWait(key: string, message?: unknown): Promise<void> {
    const stored = encodeValue(message, 'the message');
    await this.ensureWorker();
    await startSignature(this.runtime, key, stored, 'user');
  }

  async waitFor(key: string, options: RunOptions = {}): Promise<unknown> {
    return this.internals.waitFor(key, options);
  }

  /**
   * Changes the priority of a swarm member still waiting in its swarm's queue. A member
   * that started or ended: InvalidTransitionError; not a swarm member: InvalidArgumentError.
   */
  async setPriority(memberKey: string, priority: Priority): Promise<void> {
    await this.internals.setPriority(memberKey, priority, undefined);
  }

  suspend = (key: string) => this.internals.operate(key, 'suspend').then(() => undefined);
  interrupt = (key: string) => this.internals.operate(key, 'interrupt').then(() => undefined);
  resume = (key: string) => this.internals.operate(key, 'resume').then(() => undefined);
  /** suspend (default) or interrupt, by key. */
  pause = (key: string, type: 'suspend' | 'interrupt' = 'suspend') => this.internals.operate(key, type).then(() => undefined);
  remove = (key: string, options: RemoveOptions = {}) => this.internals.operate(key, 'remove', options).then(() => undefined);
  /** Cancels by key; canceling a signature that was already canceled is a no-op. */
  cancel = async (key: string, options: { confirm?: boolean } = {}) => {
    const signature = await this.load(key);
    if (!signature) {
      if (await this.internals.wasCanceled(key)) return;
      throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
    }
    await signature.cancel(options);
  };

  /**
   * Deletes a signature with its members and callbacks now, without the deletion
   * window. `force: true` deletes whatever is stored under the key without reading
   * it (the way to remove a corrupt record), and nothing else.
   */
  async delete(key: string, options: { force?: boolean } = {}): Promise<void> {
    if (options.force) {
      await this.store.audit({ at: Date.now(), action: 'delete', key, keys: [key], detail: { force: true } }, this.config.auditTtl);
      const deleted = await this.store.deleteRecords([key]);
      if (!deleted.ok) throw new SignatureLockedError(`cannot delete "${key}": it is locked`, { details: { key } });
      this.runtime.announce(key);
      return;
    }
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

  /**
   * The results of a swarm with `config: { results: 'handle' }`, read from the handle its
   * success callbacks receive: pages of results in the order the members were added (up
   * to `pageSize` each, default 1,000), so a swarm of any size is read without holding
   * it all. Readable while the swarm is kept (`ttl.doneTtl` after it ends); one that is
   * gone before the end is a `SignatureNotFoundError`.
   *
   * `for await (const page of mf.swarmResults(handle)) for (const result of page) ...`
   */
  swarmResults(handle: SwarmResultsHandle, options: { pageSize?: number } = {}): AsyncIterable<unknown[]> {
    return readSwarmResults(this.store, handle, options.pageSize);
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
    // A lost heartbeat is logged once per outage, not at every beat.
    let failing = false;
    this.timers.push(
      every(this.config.heartbeatMs, () =>
        beat().then(
          () => {
            if (failing) this.config.logger.info('heartbeat restored', { worker: this.workerId });
            failing = false;
          },
          (e) => {
            if (!failing) this.config.logger.warn('heartbeat failed; other workers may take this worker for dead until it is restored', { error: String(e) });
            failing = true;
          },
        ),
      ),
    );
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
    if (record.kind === 'graph') return new GraphSignature(this.mf, record);
    return new TaskSignature(this.mf, record);
  }

  async operate(key: string, op: UserOperation, options: RemoveOptions = {}): Promise<SignatureRecord> {
    if (op === 'resume') await (this.mf as unknown as { ensureWorker(): Promise<void> }).ensureWorker();
    const record = await operate(this.runtime, key, op, options);
    return (await this.runtime.store.getRecord(key)) ?? record;
  }

  async wasCanceled(key: string): Promise<boolean> {
    return (await this.runtime.store.auditLog(key)).some((e) => e.action === 'cancel');
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

  /**
   * Resolves callbacks and cleanups: records for names and handles, to be created with
   * their signature `owner`. New cleanup records name their owner (`cleanupOf`).
   */
  async callbacks(
    owner: string,
    success: OneOrMany<SignatureInput> | undefined,
    error: OneOrMany<SignatureInput> | undefined,
    cleanup: OneOrMany<SignatureInput> | undefined,
    where = 'callback',
    /** existing signatures the owner takes as members. */
    members: ReadonlySet<string> = new Set(),
  ) {
    const none = { keys: { successCallbacks: [] as string[], errorCallbacks: [] as string[] }, prepared: [] as Prepared[], adoptions: [] };
    if (success === undefined && error === undefined && cleanup === undefined) return none;
    const list = (v: OneOrMany<SignatureInput> | undefined, label: string) => {
      const items = v === undefined ? [] : Array.isArray(v) ? v : [v as SignatureInput];
      return items.map((task, i) => (checkInput(task, `${label} ${i}`), { task, options: {} }));
    };
    const ok = await this.prepare(list(success, `success ${where}`), undefined);
    const bad = await this.prepare(list(error, `error ${where}`), undefined);
    const after = await this.prepare(list(cleanup, `cleanup ${where}`), undefined);
    // An existing signature runs in one place: as a member (here or anywhere) or as a callback, not both.
    for (const p of [...ok, ...bad, ...after]) {
      if (p.created.includes(p.record)) continue;
      const memberOf = members.has(p.record.key) ? owner : p.record.parent;
      if (memberOf !== undefined) throw new InvalidArgumentError(`"${p.record.key}" cannot be a ${where} of ${owner}: it is a member of ${memberOf}`);
    }
    for (const p of [...ok, ...bad]) if (p.created.includes(p.record)) p.record.callbackOf = owner;
    const adoptions: { key: string; owner: string }[] = [];
    for (const p of after) {
      if (p.created.includes(p.record)) p.record.cleanupOf = owner;
      else adoptions.push({ key: p.record.key, owner }); // an existing signature: it learns its owner on commit
    }
    return {
      adoptions,
      keys: {
        successCallbacks: ok.map((p) => p.record.key),
        errorCallbacks: bad.map((p) => p.record.key),
        ...(after.length > 0 ? { cleanupCallbacks: after.map((p) => p.record.key) } : {}),
      },
      prepared: [...ok, ...bad, ...after],
    };
  }

  /**
   * A swarm's per-member callbacks: tasks, copied for every member that ends (so
   * without callbacks or cleanups of their own, which a copy could not start once).
   */
  async memberTemplates(owner: string, given: OneOrMany<SignatureInput> | undefined, option: string): Promise<Prepared[]> {
    if (given === undefined) return [];
    const items = Array.isArray(given) ? given : [given as SignatureInput];
    items.forEach((task, i) => checkInput(task, `${option} ${i}`));
    const prepared = await this.prepare(items.map((task) => ({ task, options: {} })), undefined);
    for (const { record, created } of prepared) {
      const extra = hasOwnCallbacks(record);
      if (record.kind !== 'task' || extra || record.status !== 'pending' || record.parent !== undefined) {
        throw new InvalidArgumentError(`${option} takes tasks without callbacks, cleanups or a container of their own; "${record.key}" is a ${record.status} ${record.kind}${extra ? ' with callbacks' : ''}`);
      }
      if (created.includes(record)) record.callbackOf = owner;
    }
    return prepared;
  }

  /**
   * Turns inputs into records without storing anything: new records for names and
   * handles (with their callbacks), existing signatures checked for adoption into
   * `parent`. Every value is validated and encoded here, so a bad input stores nothing.
   */
  async prepare(inputs: readonly { task: SignatureInput; options: SignOptions }[], parent: { key: string; kind: Kind } | undefined): Promise<Prepared[]> {
    const out: Prepared[] = [];
    const adopting = new Set<string>();
    let enclosing: string[] | undefined; // read once, at the first existing signature
    for (const [i, { task, options }] of inputs.entries()) {
      const where = parent ? `${parent.kind} member ${i}` : 'the signature';
      checkOptions(options, `${where} options`);
      checkKnownOptions(options, SIGN_OPTIONS, `${where} options`);
      if (options?.priority !== undefined && !isPriority(options.priority)) {
        throw new InvalidArgumentError(`priority of ${where} must be one of ${PRIORITIES.join(', ')}, got ${show(options.priority)}`);
      }
      if (task instanceof Signature || (typeof task === 'string' && KEY_PATTERN.test(task))) {
        const key = typeof task === 'string' ? task : task.key;
        const given = Object.keys(options ?? {}).filter((o) => o !== 'priority' && (options as Record<string, unknown>)[o] !== undefined);
        if (given.length > 0) {
          throw new InvalidArgumentError(`${where} "${key}" is an existing signature: ${given.join(', ')} cannot be given with it (it was set when it was signed); only a priority can`);
        }
        if (adopting.has(key)) throw new InvalidArgumentError(`${where} "${key}" is listed twice`);
        if (parent && (enclosing ??= await this.enclosing(parent.key)).includes(key)) {
          throw new InvalidArgumentError(`${where} "${key}" cannot join ${parent.kind} "${parent.key}": it is that ${parent.kind} or contains it`);
        }
        const record = await this.load(key);
        const holder = record.cleanupOf ?? record.callbackOf;
        if (parent && (record.status !== 'pending' || record.dispatchedAt !== undefined || record.parent !== undefined || holder !== undefined)) {
          const why = holder !== undefined ? `a callback or cleanup of ${holder}` : `${record.status}${record.parent ? ` and already in ${record.parent}` : ''}`;
          throw new InvalidArgumentError(`${where} "${key}" cannot join a ${parent.kind}: it is ${why}`);
        }
        adopting.add(key);
        const prepared: Prepared = { record, created: [], ...(parent ? { adopt: true as const } : {}) };
        if (parent && options?.priority !== undefined && options.priority !== record.priority) {
          prepared.priorPriority = record.priority ?? null; // restored if the add is refused
          record.priority = options.priority; // written as it is adopted
        }
        out.push(prepared);
        continue;
      }
      const name = typeof task === 'string' ? task : task.name;
      const registry = this.runtime.registry;
      let registered = registry.get(name);
      if (options.inputSchema) {
        if (typeof options.inputSchema !== 'object' || options.inputSchema === null) throw new InvalidArgumentError(`inputSchema of ${where} must be a TypeBox schema`);
        registered = registry.isLocal(name) ? registered : registry.addForeign(name, options.inputSchema);
      }
      if (!registered) throw new UnrecognizedTaskError(`no task "${name}" is registered; register it with mf.task() or pass inputSchema`, { details: { task: name } });
      const kwargs = options.kwargs ?? {};
      if (!isPlainObject(kwargs)) throw new InvalidArgumentError(`kwargs of task "${name}" must be a plain object, got ${show(kwargs)}`, { details: { task: name } });
      registered.validateKwargs(kwargs);
      if (options.status !== undefined && !STARTING_STATUSES.includes(options.status)) {
        throw new InvalidArgumentError(`a new signature can start only as ${STARTING_STATUSES.join(' or ')}, not "${String(options.status)}"`);
      }
      const key = newKey('task');
      const callbacks = await this.callbacks(key, options.successCallbacks, options.errorCallbacks, options.cleanup, `callback of task "${name}"`);
      // Field by field (extending spread copies is slow, and a swarm prepares thousands).
      const record = baseRecord(key, 'task', name, storedKwargs(kwargs, `task "${name}"`));
      Object.assign(record, callbacks.keys);
      if (options.status) record.status = options.status;
      if (options.creationTime !== undefined) record.creationTime = checkTime(options.creationTime);
      if (options.priority !== undefined) record.priority = options.priority;
      if (parent) record.parent = parent.key;
      const created = callbacks.prepared.length === 0 ? [record] : [...callbacks.prepared.flatMap((p) => p.created), record];
      out.push(callbacks.adoptions.length === 0 ? { record, created } : { record, created, cleanupAdoptions: callbacks.adoptions });
    }
    return out;
  }

  /**
   * Stores prepared records and adopts existing signatures into `parent`, all or
   * none: when an adoption loses a race, what was created is deleted and what was
   * adopted is released.
   */
  async commit(prepared: readonly Prepared[], parent: { key: string; kind: Kind } | undefined, options: { batchSize?: number } = {}): Promise<void> {
    const created = prepared.flatMap((p) => p.created);
    // Members are found through their container, never through the open index.
    const isMember = (r: SignatureRecord) => parent !== undefined && r.parent === parent.key;
    await this.create(created.filter((r) => !isMember(r)), { track: true });
    await this.create(created.filter(isMember), { track: false, batchSize: options.batchSize });
    const adopted: Prepared[] = [];
    const cleanups: { key: string; owner: string }[] = [];
    try {
      for (const p of prepared.filter((p) => p.adopt)) {
        await this.adopt(p.record.key, parent!, p.record.index, p.record.priority);
        adopted.push(p);
      }
      for (const adoption of prepared.flatMap((p) => p.cleanupAdoptions ?? [])) {
        await this.adoptCleanup(adoption.key, adoption.owner);
        cleanups.push(adoption);
      }
    } catch (error) {
      await this.rollback(created.map((r) => r.key), adopted, parent?.key ?? '', cleanups);
      throw error;
    }
  }

  /** A container and the containers around it, innermost first: none of them can become its member. */
  private async enclosing(container: string): Promise<string[]> {
    const chain = [container];
    for (let key: string | undefined = container; key !== undefined && chain.length < 1000; ) {
      key = (await this.runtime.store.getRecord(key))?.parent;
      if (key !== undefined) chain.push(key);
    }
    return chain;
  }

  /** Undoes a commit: created records go, adopted ones are on their own again. */
  async rollback(created: readonly string[], adopted: readonly Prepared[], parent: string, cleanups: readonly { key: string; owner: string }[] = []): Promise<void> {
    await this.runtime.store.deleteRecords(created);
    for (const { record, priorPriority } of adopted) {
      const restore = priorPriority === undefined ? {} : priorPriority === null ? { unset: ['parent', 'index', 'priority'] as const } : { set: { priority: priorPriority } };
      await this.runtime.store.updateRecord(record.key, { expect: { parent }, unset: ['parent', 'index'], track: true, ...restore });
    }
    for (const { key, owner } of cleanups) await this.runtime.store.updateRecord(key, { expect: { cleanupOf: owner }, unset: ['cleanupOf'] });
  }

  /**
   * An existing signature becomes the cleanup of `owner`: only while it is pending and
   * nobody's member or cleanup (its end moves its owner on: it can serve one owner).
   */
  private async adoptCleanup(key: string, owner: string): Promise<void> {
    const adopted = await this.runtime.store.updateRecord(key, {
      expect: { status: ['pending'], dispatchedAt: null, parent: null, cleanupOf: null },
      set: { cleanupOf: owner },
    });
    if (!adopted.ok) {
      const record = adopted.reason === 'missing' ? undefined : adopted.record;
      const why = record?.cleanupOf ? `already the cleanup of ${record.cleanupOf}` : record?.parent ? `in ${record.parent}` : record?.status ?? 'gone';
      throw new InvalidArgumentError(`"${key}" cannot be a cleanup: it is ${why}`);
    }
  }

  /** An existing signature becomes a member of `parent`: only while it is pending and nobody's member. */
  private async adopt(key: string, parent: { key: string; kind: Kind }, index: number | undefined, priority: Priority | undefined): Promise<void> {
    const adopted = await this.runtime.store.updateRecord(key, {
      expect: { status: ['pending'], dispatchedAt: null, parent: null, cleanupOf: null },
      set: { parent: parent.key, index, priority },
      untrack: true,
    });
    if (!adopted.ok) {
      const record = adopted.reason === 'missing' ? undefined : adopted.record;
      throw new InvalidArgumentError(`"${key}" cannot join a ${parent.kind}: it is ${record?.status ?? 'gone'}${record?.parent ? ` and already in ${record.parent}` : ''}`);
    }
  }

  async addToSwarm(swarmKey: string, inputs: readonly { task: SignatureInput; options: SignOptions }[], options: AddTasksOptions): Promise<string[]> {
    const swarm = await this.runtime.store.getRecord(swarmKey);
    if (!swarm) {
      const canceled = (await this.runtime.store.auditLog(swarmKey)).some((e) => e.action === 'cancel');
      if (canceled) throw new SwarmIsCanceledError(`swarm "${swarmKey}" was canceled`, { details: { key: swarmKey } });
      throw new SignatureNotFoundError(`no swarm is stored under "${swarmKey}"`, { details: { key: swarmKey } });
    }
    if (swarm.kind !== 'swarm') throw new InvalidArgumentError(`"${swarmKey}" is a ${swarm.kind}, not a swarm`);
    if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1)) {
      throw new InvalidArgumentError(`batchSize must be a positive integer, got ${show(options.batchSize)}`);
    }
    const prepared = await this.prepare(inputs, { key: swarmKey, kind: 'swarm' }); // validates every input before anything is stored
    return this.addPrepared(swarm, prepared, options);
  }

  /** Adds validated members to a stored swarm, all or none, and starts them if it runs. */
  async addPrepared(swarm: SignatureRecord, prepared: readonly Prepared[], options: AddTasksOptions): Promise<string[]> {
    const swarmKey = swarm.key;
    if (swarm.status === 'canceled') throw new SwarmIsCanceledError(`swarm "${swarmKey}" was canceled`);
    if (!['pending', 'active', 'suspended', 'interrupted'].includes(swarm.status)) {
      throw new SwarmIsClosedError(`swarm "${swarmKey}" is ${swarm.status}; no member can be added`);
    }
    const max = swarm.swarm?.maxTaskAllowed;
    const counts = await this.runtime.store.swarmCounts(swarmKey);
    if (max !== undefined && counts.total + prepared.length > max) {
      throw new TooManyTasksError(`swarm "${swarmKey}" allows ${max} members; it has ${counts.total} and ${prepared.length} more were added`);
    }
    if (counts.closed) throw new SwarmIsClosedError(`swarm "${swarmKey}" is closed`);
    checkListResults(swarm, counts.total + prepared.length, this.runtime.config.maxListResults);
    // Positions as they will be unless another add comes first (checked below).
    const defaultPriority = swarm.swarm?.defaultPriority;
    prepared.forEach((p, i) => {
      p.record.index = counts.total + i;
      if (defaultPriority !== undefined && p.record.priority === undefined) p.record.priority = defaultPriority;
    });
    await this.commit(prepared, { key: swarmKey, kind: 'swarm' }, options);
    const keys = prepared.map((p) => p.record.key);
    const priorities = prepared.some((p) => p.record.priority !== undefined) ? prepared.map((p) => p.record.priority) : undefined;
    const added = await this.runtime.store.swarmAdd(swarmKey, keys, { maxTaskAllowed: max, ttlSec: this.runtime.ttl('swarm', 'active'), priorities });
    if (added.ok && added.counts.total - keys.length !== counts.total) {
      // another add came between: the store's order is the truth
      const base = added.counts.total - keys.length;
      await Promise.all(keys.map((key, i) => this.runtime.store.updateRecord(key, { set: { index: base + i } })));
    }
    if (!added.ok) {
      // all or none: what was created goes, what was adopted is released
      await this.rollback(prepared.flatMap((p) => p.created.map((r) => r.key)), prepared.filter((p) => p.adopt), swarmKey);
      // a swarm that closed by reaching maxTaskAllowed refuses as "too many", as the early check does
      const full = added.reason === 'too_many' || (max !== undefined && added.counts.total >= max);
      if (full) throw new TooManyTasksError(`swarm "${swarmKey}" allows ${max} members`);
      throw new SwarmIsClosedError(`swarm "${swarmKey}" is closed`);
    }
    // A cancel marks the swarm canceled before it collects its members, so an add that
    // still finds it uncanceled here was collected with it; one that does not undoes itself.
    const current = await this.runtime.store.getRecord(swarmKey);
    if (!current || current.status === 'canceled') {
      await this.rollback(prepared.flatMap((p) => p.created.map((r) => r.key)), prepared.filter((p) => p.adopt), swarmKey);
      if (!current) await this.runtime.store.deleteRecords([swarmKey]); // the swarm state this add left behind
      if (current || (await this.wasCanceled(swarmKey))) throw new SwarmIsCanceledError(`swarm "${swarmKey}" was canceled`, { details: { key: swarmKey } });
      throw new SignatureNotFoundError(`no swarm is stored under "${swarmKey}"`, { details: { key: swarmKey } });
    }
    if (current.status === 'active') await fillContainer(this.runtime, current);
    return keys;
  }

  async setPriority(memberKey: string, priority: Priority, swarmKey: string | undefined): Promise<void> {
    if (!isPriority(priority)) throw new InvalidArgumentError(`priority must be one of ${PRIORITIES.join(', ')}, got ${show(priority)}`);
    if (typeof memberKey !== 'string') throw new InvalidArgumentError(`setPriority() takes a member key, got ${show(memberKey)}`);
    const member = await this.load(memberKey);
    if (swarmKey !== undefined && member.parent !== swarmKey) throw new InvalidArgumentError(`"${memberKey}" is not a member of swarm "${swarmKey}"`);
    const parent = member.parent === undefined ? null : await this.runtime.store.getRecord(member.parent);
    if (parent?.kind !== 'swarm') throw new InvalidArgumentError(`"${memberKey}" is not a swarm member: only a swarm's members have a priority in its queue`);
    if (!(await this.runtime.store.swarmSetPriority(parent.key, memberKey, priority))) {
      const now = (await this.runtime.store.getRecord(memberKey))?.status ?? 'gone';
      throw new InvalidTransitionError(`"${memberKey}" is no longer queued in its swarm (it is ${now}): only a queued member's priority can change`, {
        details: { key: memberKey, status: now },
      });
    }
  }

  async closeSwarm(swarmKey: string): Promise<SwarmCounts> {
    const swarm = await this.runtime.load(swarmKey);
    const counts = await this.runtime.store.swarmClose(swarmKey);
    await checkContainerEnd(this.runtime, swarm, counts);
    return counts;
  }

  async waitFor(key: string, options: RunOptions): Promise<unknown> {
    checkRunOptions(options);
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
        if (outcome === 'done') return decodeValue(record.result?.value);
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

/** Keys of the existing signatures among prepared members. */
function adoptedKeys(prepared: readonly Prepared[]): Set<string> {
  return new Set(prepared.filter((p) => p.adopt).map((p) => p.record.key));
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
