/**
 * The Mageflow Engine on Hatchet (v1 SDK). Each Mageflow task is a Hatchet task
 * (retries, execution timeout, concurrency and priority mapped across); runs carry
 * the signature key in `additionalMetadata`; cancel goes through the runs API and
 * reaches the body through its AbortSignal.
 */
import { ConcurrencyLimitStrategy, HatchetClient, NonRetryableError } from '@hatchet-dev/typescript-sdk';
// The SDK has no exports map: a file path (with .js) resolves for both ESM and CJS.
import { parentRunContextManager } from '@hatchet-dev/typescript-sdk/v1/parent-run-context-vars.js';
import {
  isRetryable,
  SIGNATURE_KEY,
  TaskCanceledError,
  TaskTimeoutError,
  type DispatchRequest,
  type Engine,
  type EngineRun,
  type TaskDefinition,
} from '@mageflow/core';

type HatchetTask = ReturnType<HatchetClient['task']>;
type HatchetWorker = Awaited<ReturnType<HatchetClient['worker']>>;
type HatchetContext = Parameters<Parameters<HatchetClient['task']>[0]['fn']>[1];

export interface HatchetEngineOptions {
  /** your Hatchet client; default `HatchetClient.init()` from the HATCHET_CLIENT_* environment. */
  client?: HatchetClient;
  /** the worker's name in Hatchet. Default `mageflow-<pid>`. */
  workerName?: string;
  /** runs this worker executes at once. Default 100. */
  slots?: number;
  /** prefixed to every task name in Hatchet, to keep apps (or tests) sharing one tenant apart. */
  taskPrefix?: string;
  /** backoff between retries; default none (Hatchet retries at once). */
  backoff?: { factor?: number; maxSeconds?: number };
  /** how long stop() waits for running handlers before it returns anyway. Default 10000 ms. */
  graceMs?: number;
}

/** Keys Hatchet adds to a run's metadata; Mageflow metadata is everything else. */
const HATCHET_METADATA = /^(traceparent|hatchet__)/;

export class HatchetEngine implements Engine {
  readonly name = 'hatchet';
  readonly inProcess = false;
  readonly hatchet: HatchetClient;
  private readonly tasks = new Map<string, { definition?: TaskDefinition; task: HatchetTask }>();
  private worker: HatchetWorker | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: HatchetEngineOptions = {}) {
    this.hatchet = options.client ?? HatchetClient.init({ log_level: 'ERROR' } as never);
  }

  register(definition: TaskDefinition): void {
    if (this.worker) throw new Error(`cannot register task "${definition.name}": the Hatchet worker has started`);
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
      // Detached from any run this worker is executing, so the signature key of the
      // current run does not leak into these runs' metadata (Hatchet merges a
      // parent's metadata into its children), and they outlive its cancellation.
      const refs = await detached(() => task.runManyNoWait(now.map((i) => ({ input: requests[i]!.input as never, opts: this.runOptions(requests[i]!) }))));
      for (const [j, ref] of refs.entries()) out[now[j]!] = { runId: await ref.getWorkflowRunId() };
    }
    return out;
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
    if (this.worker) return;
    const workflows = [...this.tasks.values()].filter((t) => t.definition).map((t) => t.task);
    if (workflows.length === 0) return; // nothing to run here: this process only dispatches
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
    if (!worker) return;
    // The SDK's stop can wait a long time on a run it is still reporting as
    // cancelled; past the grace period the worker finishes stopping on its own.
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.options.graceMs ?? 10_000).unref());
    await Promise.race([worker.stop().then(() => this.running), grace]);
  }

  // --- internals -----------------------------------------------------------------------

  private hatchetName(name: string): string {
    return `${this.options.taskPrefix ?? ''}${name}`;
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
      ...(timeoutMs ? { executionTimeout: `${Math.max(1, Math.ceil(timeoutMs / 1000))}s` } : {}),
      ...(definition.priority ? { defaultPriority: Math.min(3, Math.max(1, definition.priority)) as never } : {}),
      ...(definition.concurrency
        ? { concurrency: { expression: "'all'", maxRuns: definition.concurrency, limitStrategy: ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN } }
        : {}),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      fn: async (input: unknown, ctx: HatchetContext) => {
        const run = this.engineRun(definition, input, ctx);
        try {
          const result = await definition.handler(run);
          return { result: result === undefined ? null : result } as never; // Hatchet outputs are objects
        } catch (error) {
          if (!isRetryable(error)) throw new NonRetryableError(error instanceof Error ? error.message : String(error));
          throw error;
        }
      },
    });
  }

  /**
   * Hatchet aborts a run with the same reason for a cancel and a timeout; the
   * elapsed time tells them apart (a timeout never fires before the limit).
   */
  private engineRun(definition: TaskDefinition, input: unknown, ctx: HatchetContext): EngineRun {
    const started = Date.now();
    const controller = new AbortController();
    const onAbort = () => {
      const timedOut = definition.timeoutMs !== undefined && Date.now() - started >= definition.timeoutMs;
      controller.abort(
        timedOut
          ? new TaskTimeoutError(`task "${definition.name}" timed out after ${definition.timeoutMs} ms`)
          : new TaskCanceledError(`run ${ctx.taskRunExternalId()} was cancelled`),
      );
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
    return {
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
  }
}

function detached<T>(fn: () => Promise<T>): Promise<T> {
  return parentRunContextManager.runWithContext({} as never, fn);
}
