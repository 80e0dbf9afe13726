/**
 * The Engine port: whatever runs task code. The runtime registers one handler per
 * task, dispatches runs with metadata, cancels them, and learns from each run its
 * attempt number, whether a retry will follow, and an AbortSignal.
 * No engine SDK type crosses this interface.
 */

export interface TaskDefinition {
  name: string;
  /** retries after the first attempt. */
  retries: number;
  /** per-attempt time limit. */
  timeoutMs?: number;
  /** most runs of this task at once across workers (engines that support it). */
  concurrency?: number;
  /** default priority, 1 (low) to 3 (high). */
  priority?: number;
  handler: (run: EngineRun) => Promise<unknown>;
}

/** One attempt of one run, as the engine hands it to a handler. */
export interface EngineRun {
  runId: string;
  input: unknown;
  metadata: Readonly<Record<string, string>>;
  /** 1 for the first attempt. */
  attempt: number;
  /** attempts the engine will make in all (retries + 1). */
  maxAttempts: number;
  /** fires when the run is cancelled or times out. */
  signal: AbortSignal;
  /**
   * Optional, for engines whose `signal` is costly to make (it may be made when first
   * read): calls `listener` once when the run is cancelled or times out (at once if it
   * already was), until the returned function is called. The runtime listens this way
   * where it can, so a run whose body never reads its signal costs none.
   */
  whenAborted?(listener: (reason: unknown) => void): () => void;
  /** the engine's own context object, handed to tasks that ask for it (`withCtx`). */
  native: unknown;
}

export interface DispatchRequest {
  task: string;
  input: unknown;
  metadata?: Record<string, string>;
  /** 1 (low) to 3 (high). */
  priority?: number;
  delayMs?: number;
  /** the run's id, chosen by the caller; only given to engines that `acceptRunIds`. */
  runId?: string;
}

export interface Engine {
  /** a short name for logs ("in-process", "hatchet"). */
  readonly name: string;
  /** true when runs execute in this process only (they die with it). */
  readonly inProcess: boolean;
  /**
   * true when `dispatch` takes the run id from the request: the runtime can then
   * record a run as begun in the same store step that gives its member a slot.
   */
  readonly acceptRunIds?: boolean;
  /**
   * Called once by Mageflow, before any task is registered, with the store's
   * namespace: an engine whose task names are global to a shared server (Hatchet)
   * prefixes them with it unless told otherwise.
   */
  useNamespace?(namespace: string): void;
  register(definition: TaskDefinition): void;
  dispatch(request: DispatchRequest): Promise<{ runId: string }>;
  dispatchMany(requests: readonly DispatchRequest[]): Promise<{ runId: string }[]>;
  /** Cancels a run; its handler's signal fires. Unknown or finished runs are ignored. */
  cancel(runId: string): Promise<void>;
  /**
   * Free local slots, for engines whose runs execute in this process: a worker
   * takes no more swarm members than it can run, so others get their share.
   * Undefined (remote engines): no local limit.
   */
  capacity?(): number;
  /** Starts executing registered tasks in this process. */
  start(): Promise<void>;
  /** Stops taking runs and waits for running ones up to the engine's grace period. */
  stop(): Promise<void>;
}

/**
 * A handler throws this (or any error with `retryable === false`) when retrying
 * the same run cannot help. Engines must not retry it.
 */
export function isRetryable(error: unknown): boolean {
  return !(typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false);
}
