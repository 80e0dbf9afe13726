/**
 * The wrapper around every registered task function: it ties an engine run to its
 * signature, runs the body only when the signature's status allows, and records
 * the outcome exactly once.
 */
import { describeError, InvalidInputError, InvalidOutputError, MageflowError, SignatureNotFoundError, TaskCanceledError, type ErrorInfo } from '../errors';
import { decodeValue, encodeValue } from '../model/values';
import type { EngineRun } from '../ports/engine';
import type { SignatureRecord } from '../model/record';
import { buildInput } from './message';
import type { RegisteredTask, TaskContext } from './registry';
import { SIGNATURE_KEY, sleep, type Runtime } from './runtime';
import { hasOwnCallbacks, settle } from './settle';
import { runCleanupFn } from './cleanup';
import { memberEndWriter } from './container';
import { hasMemberCallbacks } from './member-callbacks';
import { box } from './dispatch';
import { noteEvent, taskLogger, type TaskLogger } from './task-log';

export interface SignatureView {
  (record: SignatureRecord): unknown;
}

export function makeHandler(rt: Runtime, task: RegisteredTask, view: SignatureView) {
  return (run: EngineRun): Promise<unknown> => rt.executing(run.runId, () => handle(rt, task, view, run));
}

async function handle(rt: Runtime, task: RegisteredTask, view: SignatureView, run: EngineRun): Promise<unknown> {
  const key = run.metadata[SIGNATURE_KEY];
  if (!key) return plainRun(rt, task, run, view);
  const message = (run.input as { message?: unknown } | null)?.message;
  const inherited = (run.input as { inherited?: unknown } | null)?.inherited === true;

  // Begun by the store when its container gave it a slot: the body runs at once.
  const handedOver = run.attempt === 1 ? rt.takeOver(run.runId, key) : undefined;
  const record = handedOver ?? (await begin(rt, task, run, key, message, inherited));
  if (record === undefined) return undefined;

  const ctx = new RunContext(rt, run, undefined, record.key);
  let result: unknown;
  let stored: unknown;
  try {
    const input = buildInput(task.name, decodeValue(message), decodeValue(record.kwargs) as Record<string, unknown>, task.options.messageField);
    task.validate(input);
    ctx.input = input;
    result = await untilAborted(invoke(rt, task, ctx, record, view), run);
    // A result that cannot be stored fails this run (once, without retry), here,
    // where the body's failures are handled, never later while its end is recorded.
    stored = encodeValue(result, `the result of task "${task.name}"`, InvalidOutputError);
  } catch (error) {
    await ctx.flushLog();
    if (error instanceof TaskCanceledError && run.signal.aborted) {
      // interrupted or cancelled: its status says so; only the cleanup is left to run
      void noteEvent(rt, key, run, 'info', 'the run was stopped (interrupted or canceled)');
      if (task.options.cleanup) await afterAbort(rt, task, ctx, key);
      return undefined;
    }
    const final = error instanceof InvalidInputError || !isRetryableError(error) || run.attempt >= run.maxAttempts;
    const failure = describeError(error, run.attempt);
    const cleanupError = await runCleanupFn(rt, task, ctx, { outcome: 'failed', error: failure, willRetry: !final });
    await noteEvent(rt, key, run, final ? 'error' : 'warn', final ? `failed: ${failure.message}` : `attempt ${run.attempt} failed, retrying: ${failure.message}`, {
      error: failure,
      ...(cleanupError ? { cleanupError } : {}),
    });
    if (!final) {
      if (cleanupError) await keepCleanupError(rt, key, cleanupError);
      throw error; // the engine retries; the signature stays active
    }
    await rt.guard([record.key, record.parent], () => finish(rt, record, run, 'fail', { error: failure, ...(cleanupError ? { cleanupError } : {}) }));
    throw nonRetryable(error);
  }
  const flushed = ctx.flushLog();
  if (flushed) await flushed;
  const cleanupError = await runCleanupFn(rt, task, ctx, { outcome: 'done', result, willRetry: false });
  if (cleanupError) await noteEvent(rt, key, run, 'warn', `cleanup failed: ${cleanupError.message}`, { cleanupError });
  await rt.guard([record.key, record.parent], () => finish(rt, record, run, 'succeed', { result: box(stored), ...(cleanupError ? { cleanupError } : {}) }));
  return stored;
}

/** A plain run of the task, outside any signature: no bookkeeping but its cleanup. */
async function plainRun(rt: Runtime, task: RegisteredTask, run: EngineRun, view: SignatureView): Promise<unknown> {
  const ctx = new RunContext(rt, run, run.input, undefined);
  let result: unknown;
  try {
    task.validate(run.input);
    result = await invoke(rt, task, ctx, undefined, view);
  } catch (error) {
    const aborted = error instanceof TaskCanceledError && run.signal.aborted;
    const willRetry = !aborted && isRetryableError(error) && run.attempt < run.maxAttempts;
    await runCleanupFn(rt, task, ctx, aborted ? { outcome: 'canceled', willRetry } : { outcome: 'failed', error: describeError(error, run.attempt), willRetry });
    throw error;
  }
  await runCleanupFn(rt, task, ctx, { outcome: 'done', result, willRetry: false });
  return result;
}

/** An aborted attempt's cleanup: told whether the signature was interrupted or cancelled (gone). */
async function afterAbort(rt: Runtime, task: RegisteredTask, ctx: TaskContext, key: string): Promise<void> {
  const current = await rt.store.getRecord(key).catch(() => null);
  const outcome = current === null || current.status === 'canceled' ? 'canceled' : 'interrupted';
  const cleanupError = await runCleanupFn(rt, task, ctx, { outcome, willRetry: false });
  if (cleanupError && outcome === 'interrupted') await keepCleanupError(rt, key, cleanupError);
}

/** A cleanup failure outside the write of the signature's end. */
async function keepCleanupError(rt: Runtime, key: string, cleanupError: ErrorInfo): Promise<void> {
  await rt.store.updateRecord(key, { set: { cleanupError } }).catch((error) => rt.log.warn('could not record a cleanup failure', { key, error: String(error) }));
}

/** Records that this run begins; the record when its body should run, undefined when it should not. */
async function begin(rt: Runtime, task: RegisteredTask, run: EngineRun, key: string, message: unknown, inherited: boolean): Promise<SignatureRecord | undefined> {
  // A swarm member's message is its swarm's: the member notes that it was sent, not the message.
  const kept = () => (inherited ? { dispatchedAt: Date.now() } : { message: box(message) });
  let begun;
  try {
    begun = await rt.apply(key, 'begin', {
      caller: 'runtime',
      runId: run.runId,
      attempt: run.attempt,
      // The usual case, written without a read first: a pending task no run holds yet.
      guess: { kind: 'task', status: 'pending', runId: null },
      set: (_, decision) =>
        decision.effects.includes('runBody')
          ? { runId: run.runId, attempt: run.attempt, worker: rt.workerId, ...kept() }
          : decision.effects.includes('holdMessage')
            ? kept()
            : {},
    });
  } catch (error) {
    if (error instanceof SignatureNotFoundError) {
      throw new SignatureNotFoundError(`run ${run.runId} of "${task.name}": ${error.message}`, { details: error.details });
    }
    rt.suspect(key);
    throw error;
  }
  const { record, decision } = begun;
  if (decision.effects.includes('settle')) await rt.guard([record.key, record.parent], () => settle(rt, record));
  if (!decision.effects.includes('runBody')) {
    rt.log.debug('run ended without its body', { key, status: record.status });
    return undefined;
  }
  return record;
}

async function finish(rt: Runtime, begun: SignatureRecord, run: EngineRun, op: 'succeed' | 'fail', set: Partial<SignatureRecord>) {
  // A container member with no callbacks of its own is ended and counted in one store step.
  const parent = begun.parent && !hasOwnCallbacks(begun) ? (rt.cachedContainer(begun.parent) ?? (await rt.containerView(begun.parent))) : null;
  // (not in a graph: its worker evaluates the node's edges between the two)
  const fused = parent && parent.kind !== 'task' && parent.kind !== 'graph' && !hasMemberCallbacks(parent) ? memberEndWriter(rt, parent, begun.key) : undefined;
  const ended = await rt.apply(begun.key, op, {
    caller: 'runtime',
    known: begun,
    runId: run.runId,
    attempt: run.attempt,
    expect: { runId: run.runId, attempt: run.attempt },
    set: (_, decision) => (decision.effects.includes('settle') ? set : {}),
    write: fused?.write,
  });
  if (fused?.counted) {
    // On a remote engine the run's slot is held until this handler returns, and sending the
    // next members there takes an engine round trip: the run ends first. The step is guarded,
    // so if it fails, or this worker dies, the sweep sends them.
    const after = fused.after();
    if (rt.engine.inProcess) await after;
    else after.catch((error) => rt.log.warn('handing a freed slot on failed; the sweep will', { key: begun.key, error: String(error) }));
  } else if (ended.decision.effects.includes('settle')) await settle(rt, ended.record, parent ?? undefined);
}

/**
 * What a body is handed as `ctx`. Its signal, engine context and logger are made when
 * first read: most bodies read none of them, and each costs more than the rest of a
 * run's bookkeeping.
 */
class RunContext implements TaskContext {
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly runId: string;
  readonly #rt: Runtime;
  readonly #run: EngineRun;
  #log: TaskLogger | undefined;

  constructor(
    rt: Runtime,
    run: EngineRun,
    public input: unknown,
    readonly key: string | undefined,
  ) {
    this.#rt = rt;
    this.#run = run;
    this.attempt = run.attempt;
    this.maxAttempts = run.maxAttempts;
    this.runId = run.runId;
  }

  get signal(): AbortSignal {
    return this.#run.signal;
  }

  get native(): unknown {
    return this.#run.native;
  }

  get log(): TaskLogger {
    return (this.#log ??= taskLogger(this.#rt, this.key, this.#run));
  }

  /** Stores what the body logged; undefined when it logged nothing. */
  flushLog(): Promise<void> | undefined {
    return this.#log?.flush();
  }
}

async function invoke(rt: Runtime, task: RegisteredTask, ctx: TaskContext, record: SignatureRecord | undefined, view: SignatureView): Promise<unknown> {
  const { marks } = task;
  if (marks.staggerMs) {
    const delay = Math.floor(Math.random() * marks.staggerMs);
    rt.log.info('staggering task start', { task: task.name, delayMs: delay });
    if (ctx.key) void noteEvent(rt, ctx.key, ctx, 'info', `staggering the start by ${delay} ms`, { delayMs: delay });
    await untilAborted(sleep(delay), ctx);
  }
  const mode = marks.withCtx ? 'ALL' : rt.config.paramConfig;
  const args: unknown[] = mode === 'CTX_ONLY' ? [ctx] : mode === 'ALL' ? [ctx.input, ctx] : [ctx.input];
  if (marks.withSignature) args.push(record ? view(record) : undefined);
  return task.fn(...args);
}

/** Settles with the body, or rejects as soon as the run is aborted (listened to without a signal where the engine can). */
function untilAborted<T>(work: Promise<T>, run: Pick<EngineRun, 'signal' | 'whenAborted'>): Promise<T> {
  if (run.whenAborted) {
    return new Promise<T>((resolve, reject) => {
      const stop = run.whenAborted!(reject);
      work.then(
        (value) => (stop(), resolve(value)),
        (error) => (stop(), reject(error)),
      );
    });
  }
  const signal = run.signal;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => (signal.removeEventListener('abort', onAbort), resolve(value)),
      (error) => (signal.removeEventListener('abort', onAbort), reject(error)),
    );
  });
}

function isRetryableError(error: unknown): boolean {
  return !(error instanceof MageflowError) || error.retryable;
}

function nonRetryable(error: unknown): unknown {
  if (error instanceof MageflowError && !error.retryable) return error;
  const wrapped = error instanceof Error ? error : new Error(String(error));
  Object.defineProperty(wrapped, 'retryable', { value: false, configurable: true });
  return wrapped;
}
