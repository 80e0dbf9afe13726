/**
 * The embedded Engine: runs tasks in this process. Worker slots bound how many run
 * at once; each attempt gets an AbortSignal that fires on cancel() or timeout;
 * failed attempts are retried with exponential backoff; priorities 3..1 are served
 * in that order. Runs die with the process: durability comes from the Store and the
 * runtime's recovery sweep, not from this queue.
 *
 * What a run costs is kept to what it uses: an attempt's AbortController is made
 * when its signal is first read (on Node 20 a signal costs several microseconds,
 * more than the rest of a run's bookkeeping; `whenAborted` listens without one), the
 * engine itself ends an attempt without listening to that signal, and an input is
 * copied once per attempt that may need its own copy.
 */
import { randomUUID } from 'node:crypto';
import { TaskCanceledError, TaskTimeoutError, UnrecognizedTaskError } from '../errors';
import { isRetryable, type DispatchRequest, type Engine, type EngineRun, type TaskDefinition } from '../ports/engine';

export interface BackoffPolicy {
  /** delay before the first retry. */
  baseMs: number;
  factor: number;
  maxMs: number;
}

export interface InProcessEngineOptions {
  /** most runs executing at once. */
  slots?: number;
  backoff?: BackoffPolicy;
  /** how long stop() waits for running attempts. */
  graceMs?: number;
}

interface QueuedRun {
  runId: string;
  definition: TaskDefinition;
  /** the engine's own copy, made at dispatch. */
  input: unknown;
  metadata: Record<string, string>;
  priority: number;
  attempt: number;
  /** the attempt running now. */
  current?: Attempt;
}

/** One attempt of a run, as its handler sees it. */
class Attempt implements EngineRun {
  readonly runId: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private abortedAlready = false;
  /** listeners added by `whenAborted` (most runs have none, or one at a time). */
  private listeners: ((reason: unknown) => void)[] | undefined;
  private nativeContext: unknown;
  /** ends the attempt as failed with this reason (set while it runs). */
  onAbort: ((reason: unknown) => void) | undefined;

  constructor(
    run: QueuedRun,
    readonly input: unknown,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly engineName: string,
  ) {
    this.runId = run.runId;
    this.attempt = run.attempt;
    this.maxAttempts = run.definition.retries + 1;
  }

  /** made when first read: most bodies never ask for it. */
  get native(): unknown {
    return (this.nativeContext ??= { engine: this.engineName, runId: this.runId, attempt: this.attempt });
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortedAlready) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  whenAborted(listener: (reason: unknown) => void): () => void {
    if (this.abortedAlready) {
      listener(this.abortReason);
      return noop;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const at = this.listeners?.indexOf(listener) ?? -1; // (none left once the attempt was aborted)
      if (at >= 0) this.listeners!.splice(at, 1);
    };
  }

  /** Fires the signal (if anyone holds it) and the listeners, and ends the attempt; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.abortedAlready) return;
    this.abortedAlready = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
    this.onAbort?.(reason);
  }
}

const noop = () => {};

/** A FIFO whose oldest entry is taken in O(1); an entry further in is taken by a scan. */
class RunQueue {
  private runs: (QueuedRun | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.runs.length - this.head;
  }

  push(run: QueuedRun): void {
    this.runs.push(run);
  }

  /** Takes the oldest run that `eligible` accepts. */
  take(eligible: (run: QueuedRun) => boolean): QueuedRun | undefined {
    for (let i = this.head; i < this.runs.length; i++) {
      const run = this.runs[i]!;
      if (!eligible(run)) continue;
      if (i === this.head) {
        this.runs[i] = undefined;
        this.head += 1;
        this.compact();
      } else {
        this.runs.splice(i, 1);
      }
      return run;
    }
    return undefined;
  }

  private compact(): void {
    if (this.head === this.runs.length) {
      this.runs = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }
}

export interface RunOutcome {
  runId: string;
  task: string;
  status: 'succeeded' | 'failed' | 'canceled';
  attempts: number;
  error?: unknown;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 20, factor: 2, maxMs: 2000 };

export class InProcessEngine implements Engine {
  readonly name = 'in-process';
  readonly inProcess = true;
  readonly acceptRunIds = true;
  private readonly definitions = new Map<string, TaskDefinition>();
  /** one FIFO per priority, index 0 = priority 1 (low). */
  private readonly queues = [new RunQueue(), new RunQueue(), new RunQueue()];
  private readonly running = new Map<string, QueuedRun>();
  private readonly runningPerTask = new Map<string, number>();
  private readonly waiting = new Map<string, { run: QueuedRun; timer: NodeJS.Timeout }>();
  private readonly canceled = new Set<string>();
  private readonly idle = new Set<() => void>();
  private started = false;
  private readonly slots: number;
  private readonly backoff: BackoffPolicy;
  private readonly graceMs: number;
  /** called with each run's final outcome (for logs and tests). */
  onOutcome?: (outcome: RunOutcome) => void;

  constructor(options: InProcessEngineOptions = {}) {
    this.slots = options.slots ?? 64;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.graceMs = options.graceMs ?? 5000;
  }

  register(definition: TaskDefinition): void {
    this.definitions.set(definition.name, definition);
  }

  async dispatch(request: DispatchRequest): Promise<{ runId: string }> {
    return this.submit(request);
  }

  async dispatchMany(requests: readonly DispatchRequest[]): Promise<{ runId: string }[]> {
    return requests.map((request) => this.submit(request));
  }

  private submit(request: DispatchRequest): { runId: string } {
    const definition = this.definitions.get(request.task);
    if (!definition) throw new UnrecognizedTaskError(`no task "${request.task}" is registered with the in-process engine`);
    const run: QueuedRun = {
      runId: request.runId ?? randomUUID(),
      definition,
      input: copyInput(request.input),
      metadata: { ...request.metadata },
      priority: clampPriority(request.priority ?? definition.priority ?? 2),
      attempt: 0,
    };
    if (request.delayMs && request.delayMs > 0) this.later(run, request.delayMs);
    else this.enqueue(run);
    return { runId: run.runId };
  }

  async cancel(runId: string): Promise<void> {
    const active = this.running.get(runId);
    if (active) {
      active.current?.abort(new TaskCanceledError(`run ${runId} was cancelled`));
      return;
    }
    const waiting = this.waiting.get(runId);
    if (waiting) {
      clearTimeout(waiting.timer);
      this.waiting.delete(runId);
      this.report(waiting.run, 'canceled');
      return;
    }
    this.canceled.add(runId); // still queued: dropped when its turn comes
  }

  capacity(): number {
    const queued = this.queues[0]!.length + this.queues[1]!.length + this.queues[2]!.length;
    return Math.max(0, this.slots - this.running.size - queued - this.waiting.size);
  }

  async start(): Promise<void> {
    this.started = true;
    this.pump();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    const deadline = Date.now() + this.graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Past the grace period, running attempts are told to stop.
    for (const run of this.running.values()) run.current?.abort(new TaskCanceledError('the worker is stopping'));
  }

  /** Resolves once nothing is queued, waiting for a retry, or running. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private isIdle(): boolean {
    return this.running.size === 0 && this.waiting.size === 0 && this.queues.every((q) => q.length === 0);
  }

  private enqueue(run: QueuedRun): void {
    this.queues[run.priority - 1]!.push(run);
    this.pump();
  }

  private later(run: QueuedRun, delayMs: number): void {
    const timer = setTimeout(() => {
      this.waiting.delete(run.runId);
      this.enqueue(run);
    }, delayMs);
    this.waiting.set(run.runId, { run, timer });
  }

  private pump(): void {
    while (this.started && this.running.size < this.slots) {
      const run = this.next();
      if (!run) break;
      if (this.canceled.size > 0 && this.canceled.delete(run.runId)) {
        this.report(run, 'canceled');
        continue;
      }
      this.execute(run);
    }
    if (this.isIdle()) for (const resolve of this.idle) (this.idle.delete(resolve), resolve());
  }

  /** The oldest run of the highest priority whose task is under its concurrency limit. */
  private next(): QueuedRun | undefined {
    for (let p = this.queues.length - 1; p >= 0; p--) {
      const queue = this.queues[p]!;
      if (queue.length === 0) continue;
      const run = queue.take(this.underLimit);
      if (run) return run;
    }
    return undefined;
  }

  private readonly underLimit = (run: QueuedRun): boolean => {
    const { concurrency, name } = run.definition;
    return concurrency === undefined || (this.runningPerTask.get(name) ?? 0) < concurrency;
  };

  private execute(run: QueuedRun): void {
    const { definition } = run;
    run.attempt += 1;
    // The last attempt there can be gets the engine's own copy: no later attempt needs it.
    const input = run.attempt <= definition.retries ? copyInput(run.input) : run.input;
    const attempt = new Attempt(run, input, run.metadata, this.name);
    run.current = attempt;
    this.running.set(run.runId, run);
    this.runningPerTask.set(definition.name, (this.runningPerTask.get(definition.name) ?? 0) + 1);
    const timer = definition.timeoutMs
      ? setTimeout(() => attempt.abort(new TaskTimeoutError(`task "${definition.name}" timed out after ${definition.timeoutMs} ms`)), definition.timeoutMs)
      : undefined;
    // An attempt ends when its handler settles or it is aborted, whichever is first:
    // a body that ignores its signal cannot hold a slot past its timeout.
    let ended = false;
    const end = (ok: boolean, failure?: unknown) => {
      if (ended) return;
      ended = true;
      attempt.onAbort = undefined;
      clearTimeout(timer);
      this.running.delete(run.runId);
      this.runningPerTask.set(definition.name, (this.runningPerTask.get(definition.name) ?? 1) - 1);
      this.afterAttempt(run, ok, failure);
    };
    attempt.onAbort = (reason) => end(false, reason);
    let settled: unknown;
    try {
      settled = definition.handler(attempt);
    } catch (error) {
      settled = Promise.reject(error); // ends after this call, as a rejection would: the next attempt is not started from inside this one
    }
    Promise.resolve(settled).then(
      () => end(true),
      (error: unknown) => end(false, error),
    );
  }

  private afterAttempt(run: QueuedRun, ok: boolean, failure: unknown): void {
    const { definition } = run;
    if (ok) this.report(run, 'succeeded');
    else if (failure instanceof TaskCanceledError) this.report(run, 'canceled', failure);
    else if (isRetryable(failure) && run.attempt <= definition.retries && this.started) {
      const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * this.backoff.factor ** (run.attempt - 1));
      this.later(run, delay);
    } else this.report(run, 'failed', failure);
    this.pump();
  }

  private report(run: QueuedRun, status: RunOutcome['status'], error?: unknown): void {
    this.onOutcome?.({ runId: run.runId, task: run.definition.name, status, attempts: run.attempt, error });
  }
}

/**
 * The engine's own copy of a run's input. Plain data (objects, arrays, primitives:
 * what runs are usually given) is copied directly, many times faster than
 * structuredClone, and as a remote engine's JSON would copy it: an object reached
 * twice is copied twice. Anything else, or data nested deeper than a plain copy
 * should walk (it may be cyclic), goes through structuredClone.
 */
function copyInput(value: unknown): unknown {
  const copy = copyPlainInput(value, 0);
  return copy === NOT_PLAIN ? structuredClone(value) : copy;
}

const NOT_PLAIN = Symbol('not plain');
const MAX_PLAIN_DEPTH = 64;

function copyPlainInput(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'function' || typeof value === 'symbol' ? NOT_PLAIN : value;
  if (depth >= MAX_PLAIN_DEPTH) return NOT_PLAIN;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const source = value as unknown[];
    const out = new Array<unknown>(source.length);
    for (let i = 0; i < source.length; i++) {
      if (!(i in source)) return NOT_PLAIN; // a hole: structuredClone keeps it
      const item = copyPlainInput(source[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = copyPlainInput((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    out[key] = item;
  }
  return out;
}

function clampPriority(priority: number): number {
  return Math.min(3, Math.max(1, Math.round(priority)));
}
