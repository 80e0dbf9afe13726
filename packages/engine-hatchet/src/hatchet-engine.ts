/**
 * The Mageflow Engine on Hatchet (v1 SDK). Each Mageflow task is a Hatchet task
 * (retries, execution timeout, concurrency and priority mapped across); runs carry
 * the signature key in `additionalMetadata`; cancel goes through the runs API and
 * reaches the body through its AbortSignal.
 */
import { createHash } from 'node:crypto';
import { ConcurrencyLimitStrategy, HatchetClient, NonRetryableError } from '@hatchet-dev/typescript-sdk';
// The SDK has no exports map: a file path (with .js) resolves for both ESM and CJS.
import { parentRunContextManager } from '@hatchet-dev/typescript-sdk/v1/parent-run-context-vars.js';
import { DEFAULT_LOGGER } from '@hatchet-dev/typescript-sdk/clients/hatchet-client/hatchet-logger.js';
import {
  InvalidTransitionError,
  isRetryable,
  SIGNATURE_KEY,
  TaskCanceledError,
  TaskTimeoutError,
  type DispatchRequest,
  type Engine,
  type EngineRun,
  type TaskDefinition,
} from '@mageflow/core';
import { TriggerBatcher } from './trigger-batcher';

type HatchetTask = ReturnType<HatchetClient['task']>;
type HatchetWorker = Awaited<ReturnType<HatchetClient['worker']>>;
type HatchetContext = Parameters<Parameters<HatchetClient['task']>[0]['fn']>[1];
type LogConstructor = typeof DEFAULT_LOGGER;
type HatchetRun = Parameters<HatchetTask['runManyNoWait']>[0][number];

export interface HatchetEngineOptions {
  /** your Hatchet client; default `HatchetClient.init()` from the HATCHET_CLIENT_* environment. */
  client?: HatchetClient;
  /** the worker's name in Hatchet. Default `mageflow-<pid>`. */
  workerName?: string;
  /** runs this worker executes at once. Default 100. */
  slots?: number;
  /**
   * prefixed to every task name in Hatchet, to keep apps (or tests) sharing one tenant apart.
   * Default: derived from the store's namespace (`new Mageflow()` passes it through
   * `useNamespace`), e.g. `orders.` for a Redis prefix `orders`; '' when the store has none.
   * Pass '' explicitly to share task names with other apps on purpose.
   */
  taskPrefix?: string;
  /** backoff between retries; default none (Hatchet retries at once). */
  backoff?: { factor?: number; maxSeconds?: number };
  /** how long stop() waits for running handlers before it returns anyway. Default 10000 ms. */
  graceMs?: number;
  /**
   * print the SDK's ERROR line and stack for every failed attempt of a task. Default
   * false: Mageflow records each failure and hands it to error callbacks, so a retried
   * or expected failure is not an error of the process. Applies to the client this
   * engine creates; a `client` of your own logs as you configured it.
   */
  logTaskFailures?: boolean;
}

/** Keys Hatchet adds to a run's metadata; Mageflow metadata is everything else. */
const HATCHET_METADATA = /^(traceparent|hatchet__)/;

export class HatchetEngine implements Engine {
  readonly name = 'hatchet';
  readonly inProcess = false;
  readonly hatchet: HatchetClient;
  private readonly tasks = new Map<string, { definition?: TaskDefinition; task: HatchetTask }>();
  private readonly batchers = new Map<string, TriggerBatcher<HatchetRun>>();
  private worker: HatchetWorker | undefined;
  private running: Promise<void> | undefined;
  /** between start() and stop(), even when start() had no task to run a worker for. */
  private started = false;
  private taskPrefix: string;
  /** stacks of errors our task functions threw, which the SDK is about to log. */
  private readonly failedStacks = new Set<string>();

  constructor(private readonly options: HatchetEngineOptions = {}) {
    this.taskPrefix = options.taskPrefix ?? '';
    const logger = options.logTaskFailures ? DEFAULT_LOGGER : this.quietLogger(DEFAULT_LOGGER);
    this.hatchet = options.client ?? HatchetClient.init({ log_level: 'ERROR', logger } as never);
  }

  /**
   * Hatchet task names are global to a tenant: without a prefix, two apps that share a
   * tenant and a task name would run each other's runs. Unless `taskPrefix` was given,
   * the store's namespace becomes the prefix. Hatchet allows only `[A-Za-z0-9._-]` in
   * names; a namespace with other characters (a Redis prefix may hold ':') has them
   * replaced by '_' and a short hash of the namespace appended, so distinct namespaces
   * never map to one prefix.
   */
  useNamespace(namespace: string): void {
    if (this.options.taskPrefix !== undefined || !namespace) return;
    const prefix = `${hatchetSafe(namespace)}.`;
    if (prefix === this.taskPrefix) return;
    if (this.tasks.size > 0) {
      throw new InvalidTransitionError(`cannot change the Hatchet task prefix to namespace "${namespace}": tasks are already declared`, {
        details: { namespace, tasks: [...this.tasks.keys()] },
      });
    }
    this.taskPrefix = prefix;
  }

  register(definition: TaskDefinition): void {
    // The Hatchet worker announces its task list once, when it starts; a task added later
    // would never be offered runs. Nothing is wrong with the task, only with the moment.
    if (this.started) {
      throw new InvalidTransitionError(`cannot register task "${definition.name}": the Hatchet worker has already started; register every task before mf.start()`, {
        details: { task: definition.name, engine: this.name },
      });
    }
    this.tasks.set(definition.name, { definition, task: this.declare(definition) });
  }

  async dispatch(request: DispatchRequest): Promise<{ runId: string }> {
    const [ref] = await this.dispatchMany([request]);
    return ref!;
  }

  async dispatchMany(requests: readonly DispatchRequest[]): Promise<{ runId: string }[]> {
    const out: { runId: string }[] = new Array(requests.length);
    const byTask = new Map<string, number[]>();
    requests.forEach((r, i) => (byTask.get(r.task) ?? byTask.set(r.task, []).get(r.task)!).push(i));
    for (const [name, indexes] of byTask) {
      const task = this.handle(name);
      for (const i of indexes.filter((i) => requests[i]!.delayMs)) {
        // A delayed run is a Hatchet schedule: it has no run id until it fires.
        const r = requests[i]!;
        const scheduled = await detached(() => task.delay(Math.ceil(r.delayMs! / 1000), r.input as never, this.runOptions(r)));
        out[i] = { runId: `scheduled:${(scheduled as { metadata?: { id?: string } }).metadata?.id ?? ''}` };
      }
      const now = indexes.filter((i) => !requests[i]!.delayMs);
      if (now.length === 0) continue;
      const ids = await this.batcher(name, task).send(now.map((i) => ({ input: requests[i]!.input as never, opts: this.runOptions(requests[i]!) })));
      ids.forEach((runId, j) => (out[now[j]!] = { runId }));
    }
    return out;
  }

  private batcher(name: string, task: HatchetTask): TriggerBatcher<HatchetRun> {
    let batcher = this.batchers.get(name);
    if (!batcher) {
      // Detached from any run this worker is executing, so the signature key of the
      // current run does not leak into these runs' metadata (Hatchet merges a
      // parent's metadata into its children), and they outlive its cancellation.
      const trigger = async (runs: HatchetRun[]) => {
        const refs = await detached(() => task.runManyNoWait(runs));
        return Promise.all(refs.map((ref) => ref.getWorkflowRunId()));
      };
      batcher = new TriggerBatcher(trigger, { maxBatch: MAX_TRIGGER_BATCH, maxInFlight: MAX_TRIGGERS_IN_FLIGHT });
      this.batchers.set(name, batcher);
    }
    return batcher;
  }

  async cancel(runId: string): Promise<void> {
    if (runId.startsWith('scheduled:')) return;
    try {
      await this.hatchet.runs.cancel({ ids: [runId] });
    } catch {
      // unknown or finished runs are ignored, as the Engine contract says
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const workflows = [...this.tasks.values()].filter((t) => t.definition).map((t) => t.task);
    if (workflows.length === 0) return; // nothing to run here: this process only dispatches
    try {
      await this.startWorker(workflows);
    } catch (error) {
      this.started = false;
      throw error;
    }
  }

  private async startWorker(workflows: HatchetTask[]): Promise<void> {
    const before = { SIGTERM: new Set(process.listeners('SIGTERM')), SIGINT: new Set(process.listeners('SIGINT')) };
    this.worker = await this.hatchet.worker(this.options.workerName ?? `mageflow-${process.pid}`, {
      workflows,
      slots: this.options.slots ?? 100,
      handleKill: false,
    });
    // The SDK installs signal handlers even with handleKill: false; the process is the app's.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      for (const listener of process.listeners(signal)) if (!before[signal].has(listener)) process.removeListener(signal, listener as never);
    }
    this.running = this.worker.start().catch(() => undefined);
    await this.worker.waitUntilReady(30_000);
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.started = false;
    if (!worker) return;
    // The SDK's stop can wait a long time on a run it is still reporting as
    // cancelled; past the grace period the worker finishes stopping on its own.
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.options.graceMs ?? 10_000).unref());
    await Promise.race([worker.stop().then(() => this.running), grace]);
  }

  // --- internals -----------------------------------------------------------------------

  private hatchetName(name: string): string {
    return `${this.taskPrefix}${name}`;
  }

  /**
   * The SDK logs every failed attempt at ERROR with its stack. Mageflow reports failures
   * itself (the signature's status, error callbacks), so those two lines are dropped;
   * every other SDK message passes.
   */
  private quietLogger(base: LogConstructor): LogConstructor {
    return (context, level) => {
      const logger = base(context, level);
      const error = logger.error.bind(logger);
      logger.error = async (message: string, cause?: Error) => {
        if (/^Task run failed: /.test(message)) return;
        if (this.failedStacks.delete(message)) return;
        return error(message, cause);
      };
      return logger;
    };
  }

  private expectFailureLog(error: Error): void {
    if (!error.stack) return;
    this.failedStacks.add(error.stack);
    // the SDK logs it right after the function rejects; forget it if it never does
    setTimeout(() => this.failedStacks.delete(error.stack!), 60_000).unref();
  }

  /** A task known here only by name (registered by another worker) can still be dispatched. */
  private handle(name: string): HatchetTask {
    let entry = this.tasks.get(name);
    if (!entry) {
      entry = { task: this.hatchet.task({ name: this.hatchetName(name), fn: async () => ({}) }) };
      this.tasks.set(name, entry);
    }
    return entry.task;
  }

  private runOptions(request: DispatchRequest) {
    return {
      additionalMetadata: request.metadata ?? {},
      ...(request.priority ? { priority: Math.min(3, Math.max(1, Math.round(request.priority))) as never } : {}),
    };
  }

  private declare(definition: TaskDefinition): HatchetTask {
    const { timeoutMs } = definition;
    return this.hatchet.task({
      name: this.hatchetName(definition.name),
      retries: definition.retries,
      // The exact limit is enforced here, by a timer in the handler (see engineRun).
      // Hatchet's own timeout takes whole seconds; it stays as a ceiling a little above,
      // for a worker too stuck to fire its timer.
      ...(timeoutMs ? { executionTimeout: `${Math.ceil(timeoutMs / 1000) + TIMEOUT_MARGIN_S}s` } : {}),
      ...(definition.priority ? { defaultPriority: Math.min(3, Math.max(1, definition.priority)) as never } : {}),
      ...(definition.concurrency
        ? { concurrency: { expression: "'all'", maxRuns: definition.concurrency, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN } }
        : {}),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      fn: async (input: unknown, ctx: HatchetContext) => {
        const { run, dispose } = this.engineRun(definition, input, ctx);
        try {
          const result = await definition.handler(run);
          return { result: result === undefined ? null : result } as never; // Hatchet outputs are objects
        } catch (error) {
          // A timeout is a retryable failure like any other: Hatchet retries it while the
          // task has retries left.
          const thrown = !isRetryable(error)
            ? new NonRetryableError(error instanceof Error ? error.message : String(error))
            : error instanceof Error
              ? error
              : new Error(String(error));
          this.expectFailureLog(thrown);
          throw thrown;
        } finally {
          dispose();
        }
      },
    });
  }

  /**
   * The run's signal fires with TaskTimeoutError when the task's exact timeoutMs has
   * passed (a local timer), or when Hatchet aborts the run. Hatchet aborts with the
   * same reason for a cancel and its own (ceiling) timeout; the elapsed time tells
   * them apart (a timeout never fires before the limit).
   */
  private engineRun(definition: TaskDefinition, input: unknown, ctx: HatchetContext): { run: EngineRun; dispose: () => void } {
    const started = Date.now();
    const controller = new AbortController();
    const timeout = () => new TaskTimeoutError(`task "${definition.name}" timed out after ${definition.timeoutMs} ms`, { details: { task: definition.name, timeoutMs: definition.timeoutMs } });
    const timer = definition.timeoutMs ? setTimeout(() => controller.abort(timeout()), definition.timeoutMs) : undefined;
    const onAbort = () => {
      const timedOut = definition.timeoutMs !== undefined && Date.now() - started >= definition.timeoutMs;
      controller.abort(timedOut ? timeout() : new TaskCanceledError(`run ${ctx.taskRunExternalId()} was cancelled`));
    };
    if (ctx.abortController.signal.aborted) onAbort();
    else ctx.abortController.signal.addEventListener('abort', onAbort, { once: true });
    const raw = (ctx.additionalMetadata() ?? {}) as Record<string, unknown>;
    const metadata: Record<string, string> = Object.fromEntries(
      Object.entries(raw)
        .filter(([key]) => !HATCHET_METADATA.test(key))
        .map(([key, value]) => [key, String(value)]),
    );
    // Mageflow dispatches detached, so a run with a parent was started by a task body
    // itself (ctx.runChild): Hatchet copied the parent's metadata into it, and with it
    // the parent's signature key, which is not this run's.
    const hasParent = Boolean(ctx.parentWorkflowRunId()) || Object.keys(raw).some((key) => key.startsWith('hatchet__parent'));
    if (hasParent) delete metadata[SIGNATURE_KEY];
    const run: EngineRun = {
      runId: ctx.taskRunExternalId(),
      input,
      metadata,
      // After a worker is lost Hatchet runs the task again with a higher retry count
      // whatever the retry budget, so attempt can exceed maxAttempts: it is then the last.
      attempt: ctx.retryCount() + 1,
      maxAttempts: definition.retries + 1,
      signal: controller.signal,
      native: ctx,
    };
    const dispose = () => {
      clearTimeout(timer);
      ctx.abortController.signal.removeEventListener('abort', onAbort);
    };
    return { run, dispose };
  }
}

/**
 * The SDK splits a bulk trigger into calls of at most 500 runs (and 4 MB); a batch no
 * larger stays one call, so its outcome is the same for every run in it.
 */
const MAX_TRIGGER_BATCH = 500;

/**
 * Bulk triggers of one task outstanding at once. On a 1,000-member swarm at
 * maxConcurrency 100 (medians of 3, 2 busy cores): 1 was no faster than a trigger per
 * run (runs waited on the trigger ahead of theirs while holding worker slots); 2 and 4
 * took a fifth less time, 4 a little less than 2.
 */
const MAX_TRIGGERS_IN_FLIGHT = 4;

/** Seconds Hatchet's own execution timeout stays above a task's exact timeout. */
const TIMEOUT_MARGIN_S = 2;

/** A namespace as a Hatchet name part: only [A-Za-z0-9_-] kept, distinct namespaces kept distinct. */
function hatchetSafe(namespace: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(namespace)) return namespace;
  const hash = createHash('sha256').update(namespace).digest('hex').slice(0, 8);
  return `${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}-${hash}`;
}

function detached<T>(fn: () => Promise<T>): Promise<T> {
  return parentRunContextManager.runWithContext({} as never, fn);
}
