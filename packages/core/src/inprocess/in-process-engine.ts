/**
 * The embedded Engine: runs tasks in this process. Worker slots bound how many run
 * at once; each attempt gets an AbortSignal that fires on cancel() or timeout;
 * failed attempts are retried with exponential backoff; priorities 3..1 are served
 * in that order. Runs die with the process: durability comes from the Store and the
 * runtime's recovery sweep, not from this queue.
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
  input: unknown;
  metadata: Record<string, string>;
  priority: number;
  attempt: number;
  controller?: AbortController;
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
  private readonly queues: QueuedRun[][] = [[], [], []];
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
    const definition = this.definitions.get(request.task);
    if (!definition) throw new UnrecognizedTaskError(`no task "${request.task}" is registered with the in-process engine`);
    const run: QueuedRun = {
      runId: request.runId ?? randomUUID(),
      definition,
      input: structuredClone(request.input),
      metadata: { ...request.metadata },
      priority: clampPriority(request.priority ?? definition.priority ?? 2),
      attempt: 0,
    };
    if (request.delayMs && request.delayMs > 0) this.later(run, request.delayMs);
    else this.enqueue(run);
    return { runId: run.runId };
  }

  async dispatchMany(requests: readonly DispatchRequest[]): Promise<{ runId: string }[]> {
    const out: { runId: string }[] = [];
    for (const request of requests) out.push(await this.dispatch(request));
    return out;
  }

  async cancel(runId: string): Promise<void> {
    const active = this.running.get(runId);
    if (active) {
      active.controller?.abort(new TaskCanceledError(`run ${runId} was cancelled`));
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
    const queued = this.queues.reduce((n, q) => n + q.length, 0);
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
    for (const run of this.running.values()) run.controller?.abort(new TaskCanceledError('the worker is stopping'));
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
      if (this.canceled.delete(run.runId)) {
        this.report(run, 'canceled');
        continue;
      }
      void this.execute(run);
    }
    if (this.isIdle()) for (const resolve of this.idle) (this.idle.delete(resolve), resolve());
  }

  /** The oldest run of the highest priority whose task is under its concurrency limit. */
  private next(): QueuedRun | undefined {
    for (let p = this.queues.length - 1; p >= 0; p--) {
      const queue = this.queues[p]!;
      const index = queue.findIndex((run) => this.underLimit(run.definition));
      if (index === 0) return queue.shift();
      if (index > 0) return queue.splice(index, 1)[0];
    }
    return undefined;
  }

  private underLimit(definition: TaskDefinition): boolean {
    return definition.concurrency === undefined || (this.runningPerTask.get(definition.name) ?? 0) < definition.concurrency;
  }

  private async execute(run: QueuedRun): Promise<void> {
    const { definition } = run;
    run.attempt += 1;
    const controller = new AbortController();
    run.controller = controller;
    this.running.set(run.runId, run);
    this.runningPerTask.set(definition.name, (this.runningPerTask.get(definition.name) ?? 0) + 1);
    const timer = definition.timeoutMs
      ? setTimeout(() => controller.abort(new TaskTimeoutError(`task "${definition.name}" timed out after ${definition.timeoutMs} ms`)), definition.timeoutMs)
      : undefined;
    const engineRun: EngineRun = {
      runId: run.runId,
      input: structuredClone(run.input),
      metadata: run.metadata,
      attempt: run.attempt,
      maxAttempts: definition.retries + 1,
      signal: controller.signal,
      native: { engine: this.name, runId: run.runId, attempt: run.attempt },
    };
    let failure: unknown;
    let ok = false;
    try {
      // An attempt ends when its handler settles or its signal fires, whichever is first:
      // a body that ignores its signal cannot hold a slot past its timeout.
      await Promise.race([definition.handler(engineRun), aborted(controller.signal)]);
      ok = true;
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(timer);
      this.running.delete(run.runId);
      this.runningPerTask.set(definition.name, (this.runningPerTask.get(definition.name) ?? 1) - 1);
    }
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

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function clampPriority(priority: number): number {
  return Math.min(3, Math.max(1, Math.round(priority)));
}
