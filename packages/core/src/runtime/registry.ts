/**
 * Registered tasks: the user's function, its options, and how to call it.
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { InvalidInputError, type ErrorInfo } from '../errors';
import type { ConditionFn } from './condition';
import type { TaskLogger } from './task-log';

/** What a task body is handed besides its input (when it asks for it). */
export interface TaskContext {
  /** the run's input, for `CTX_ONLY` tasks. */
  input: unknown;
  /** fires when the run is interrupted, cancelled or times out. */
  signal: AbortSignal;
  attempt: number;
  maxAttempts: number;
  runId: string;
  /** the signature key, when the run belongs to one. */
  key?: string;
  /** the engine's own context object (the Hatchet Context on Hatchet). */
  native: unknown;
  /**
   * Log lines kept with the signature (capped at LOG_CAP, with its TTL), shown live by the
   * dashboard, `mageflow logs` and the MCP server: `ctx.log.info('row done', { row: 7 })`.
   * In a run without a signature they go to the configured logger.
   */
  log: TaskLogger;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFn = (...args: any[]) => unknown;

export interface TaskOptions {
  /** TypeBox schema of the task's input; invalid input fails the run before the body runs. */
  input?: TSchema;
  /** where the incoming message goes in the input (chains hand results forward through it). */
  messageField?: string;
  /** retries after the first attempt. Default 0. */
  retries?: number;
  /** per-attempt time limit in ms. */
  timeoutMs?: number;
  /** most runs of this task at once (engines that support it). */
  concurrency?: number;
  /** 1 (low) to 3 (high). Default 2. */
  priority?: number;
  /**
   * Runs in this worker right after every attempt of the body, however it went (returned,
   * threw, timed out, interrupted, cancelled), before the attempt's end is recorded. Its
   * failure is logged and kept as the signature's `cleanupError`; it never changes the outcome.
   */
  cleanup?: (ctx: TaskContext, end: CleanupEnd) => unknown;
  /** longest the cleanup function may take (then the run goes on without it). Default 30,000 ms. */
  cleanupTimeoutMs?: number;
}

/** How an attempt ended, as a task's cleanup function is told. */
export interface CleanupEnd {
  outcome: 'done' | 'failed' | 'interrupted' | 'canceled';
  /** the body's return value, when it is done. */
  result?: unknown;
  /** what the body threw (a timeout is a `TaskTimeoutError`), when it failed. */
  error?: ErrorInfo;
  /** true when the engine will run the body again (a failed attempt with retries left). */
  willRetry: boolean;
}

/** Markers set on a function by `withCtx`, `withSignature` and `staggerExecution`. */
export interface TaskMarks {
  withCtx?: boolean;
  withSignature?: boolean;
  staggerMs?: number;
}
const MARKS = Symbol.for('@mageflow/core/task-marks');

export function marksOf(fn: TaskFn): TaskMarks {
  return (fn as unknown as Record<symbol, TaskMarks>)[MARKS] ?? {};
}

function mark<F extends TaskFn>(fn: F, add: TaskMarks): F {
  const marked = ((...args: unknown[]) => fn(...args)) as F;
  Object.defineProperty(marked, MARKS, { value: { ...marksOf(fn), ...add } });
  Object.defineProperty(marked, 'name', { value: fn.name });
  return marked;
}

/** This task receives the context as its second argument, whatever `paramConfig` says. */
export const withCtx = <F extends TaskFn>(fn: F): F => mark(fn, { withCtx: true });
/** This task receives its own signature as its last argument. */
export const withSignature = <F extends TaskFn>(fn: F): F => mark(fn, { withSignature: true });
/** Waits a random 0..waitMs before the body (logged), and extends the task's timeout by waitMs. */
export const staggerExecution =
  (waitMs: number) =>
  <F extends TaskFn>(fn: F): F =>
    mark(fn, { staggerMs: waitMs });

export interface RegisteredTask {
  name: string;
  fn: TaskFn;
  options: TaskOptions;
  marks: TaskMarks;
  validate(input: unknown): void;
  /** checks bound kwargs against the schema's declared properties, before any run. */
  validateKwargs(kwargs: Record<string, unknown>): void;
}

export class TaskRegistry {
  private readonly tasks = new Map<string, RegisteredTask>();
  /** graph edge conditions registered with `mf.condition()`, by name. */
  readonly conditions = new Map<string, ConditionFn>();
  /** schemas of tasks registered elsewhere (signed with `inputSchema`). */
  private readonly foreign = new Map<string, RegisteredTask>();

  /** Describes a task without registering it (`register` makes it known). */
  describe(name: string, fn: TaskFn, options: TaskOptions): RegisteredTask {
    return describeTask(name, fn, options);
  }

  register(task: RegisteredTask): void {
    this.tasks.set(task.name, task);
  }

  get(name: string): RegisteredTask | undefined {
    return this.tasks.get(name) ?? this.foreign.get(name);
  }

  /** The tasks registered in this process, in the order registered. */
  list(): RegisteredTask[] {
    return [...this.tasks.values()];
  }

  isLocal(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Records the schema of a task that runs on another worker. */
  addForeign(name: string, schema: TSchema): RegisteredTask {
    const task = describeTask(name, () => undefined, { input: schema });
    this.foreign.set(name, task);
    return task;
  }
}

function describeTask(name: string, fn: TaskFn, options: TaskOptions): RegisteredTask {
  const schema = options.input;
  const check = schema ? Compile(schema) : undefined;
  const properties = (schema as { properties?: Record<string, TSchema> } | undefined)?.properties;
  const closed = (schema as { additionalProperties?: unknown } | undefined)?.additionalProperties === false;
  const propertyChecks = new Map(Object.entries(properties ?? {}).map(([k, s]) => [k, Compile(s)]));
  return {
    name,
    fn,
    options,
    marks: marksOf(fn),
    validate(input) {
      if (!check || check.Check(input)) return;
      const problems = [...check.Errors(input)].slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`);
      throw new InvalidInputError(`invalid input for task "${name}": ${problems.join('; ')}`, { details: { task: name, problems } });
    },
    validateKwargs(kwargs) {
      if (!check) return;
      for (const [key, value] of Object.entries(kwargs)) {
        const property = propertyChecks.get(key);
        if (!property) {
          if (closed) throw new InvalidInputError(`task "${name}" has no input field "${key}"`, { details: { task: name, field: key } });
          continue;
        }
        if (!property.Check(value)) {
          const problem = [...property.Errors(value)][0];
          throw new InvalidInputError(`invalid kwarg "${key}" for task "${name}": ${problem?.message ?? 'does not match'}`, {
            details: { task: name, field: key },
          });
        }
      }
    },
  };
}
