/**
 * Every error Mageflow raises is a `MageflowError` with a `code`. A few subclasses
 * exist so callers can catch the cases they act on by name.
 *
 * `instanceof` is answered by a brand registered with `Symbol.for`, so it still
 * works when an app ends up with two copies of this package.
 */
const BRAND = Symbol.for('@mageflow/core/error');

export type MageflowErrorCode =
  | 'TASK_ALREADY_RUNNING'
  | 'SIGNATURE_NOT_FOUND'
  | 'UNRECOGNIZED_TASK'
  | 'TOO_MANY_TASKS'
  | 'TOO_MANY_RESULTS'
  | 'SWARM_IS_CANCELED'
  | 'SWARM_IS_CLOSED'
  | 'INVALID_TRANSITION'
  | 'INVALID_INPUT'
  | 'INVALID_OUTPUT'
  | 'INVALID_ARGUMENT'
  | 'CORRUPT_RECORD'
  | 'SIGNATURE_LOCKED'
  | 'CONFIRMATION_REQUIRED'
  | 'TASK_TIMEOUT'
  | 'TASK_CANCELED'
  | 'TASK_FAILED'
  | 'STORE_UNAVAILABLE'
  | 'ENGINE_UNAVAILABLE'
  | 'WAIT_TIMEOUT'
  | 'SWARM_FAILED'
  | 'INVALID_GRAPH'
  | 'UNKNOWN_CONDITION';

export interface MageflowErrorOptions {
  cause?: unknown;
  /** false when retrying the same run cannot succeed (the engine must not retry). */
  retryable?: boolean;
  /** structured facts about the failure, for logs and tests. */
  details?: Record<string, unknown>;
}

export class MageflowError extends Error {
  readonly code: MageflowErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  declare readonly cause: unknown;

  constructor(code: MageflowErrorCode, message: string, options: MageflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? true;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: code });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    const ownCode = (this as unknown as { errorCode?: MageflowErrorCode }).errorCode;
    return ownCode === undefined || (value as Record<symbol, unknown>)[BRAND] === ownCode;
  }
}

/**
 * The constructor codedError returns. Spelled out so the published declarations
 * name only our own types: left to inference, they would copy Node's
 * ErrorConstructor statics (`NodeJS.CallSite`) and need @types/node.
 */
interface CodedErrorClass {
  new (message: string, options?: MageflowErrorOptions): MageflowError;
  readonly errorCode: MageflowErrorCode;
}

function codedError(code: MageflowErrorCode, retryable = true): CodedErrorClass {
  return class extends MageflowError {
    static readonly errorCode = code;
    constructor(message: string, options: MageflowErrorOptions = {}) {
      super(code, message, { retryable, ...options });
    }
  };
}

/** suspend() on a task that is already running: interrupt() it instead. */
export class TaskAlreadyRunningError extends codedError('TASK_ALREADY_RUNNING', false) {}
/** No signature is stored under the key (never created, deleted, or expired). */
export class SignatureNotFoundError extends codedError('SIGNATURE_NOT_FOUND', false) {}
/** A task name that no `mf.task()` registered, signed without an input schema. */
export class UnrecognizedTaskError extends codedError('UNRECOGNIZED_TASK', false) {}
/** Adding to a swarm past its `maxTaskAllowed`. */
export class TooManyTasksError extends codedError('TOO_MANY_TASKS', false) {}
/**
 * A swarm whose results are handed over as one list ('list', the default) would hold more
 * than `config.maxListResults` members: give it `config: { results: 'handle' }`.
 */
export class TooManyResultsError extends codedError('TOO_MANY_RESULTS', false) {}
/** Adding to a swarm that was canceled. */
export class SwarmIsCanceledError extends codedError('SWARM_IS_CANCELED', false) {}
/** Adding to a swarm that was closed or has finished. */
export class SwarmIsClosedError extends codedError('SWARM_IS_CLOSED', false) {}
/** An operation the signature's current status does not allow. */
export class InvalidTransitionError extends codedError('INVALID_TRANSITION', false) {}
/** Task input that does not match the task's schema. */
export class InvalidInputError extends codedError('INVALID_INPUT', false) {}
/** A task returned a value that cannot be stored (a function, a cycle...); the run fails without retry. */
export class InvalidOutputError extends codedError('INVALID_OUTPUT', false) {}
/** An argument to the API that cannot be used (bad config, too few chain members...). */
export class InvalidArgumentError extends codedError('INVALID_ARGUMENT', false) {}
/** A stored value that is not a valid record: corrupt, foreign, or from an incompatible version. */
export class CorruptRecordError extends codedError('CORRUPT_RECORD', false) {}
/** Another holder has the signature locked (see `mf.lock`). */
export class SignatureLockedError extends codedError('SIGNATURE_LOCKED', true) {}
/** A destructive call made without `{ confirm: true }`. */
export class ConfirmationRequiredError extends codedError('CONFIRMATION_REQUIRED', false) {}
/** A run exceeded its task's timeout. */
export class TaskTimeoutError extends codedError('TASK_TIMEOUT', true) {}
/** The run was stopped by interrupt() or cancel(). */
export class TaskCanceledError extends codedError('TASK_CANCELED', false) {}
/** run() of a signature that failed; `details.error` holds what error callbacks receive. */
export class TaskFailedError extends codedError('TASK_FAILED', false) {}
/** The store could not be reached or answered with an error. */
export class StoreUnavailableError extends codedError('STORE_UNAVAILABLE', true) {}
/** `run()` gave up waiting for a result. */
export class WaitTimeoutError extends codedError('WAIT_TIMEOUT', false) {}
/** A swarm stopped at its `stopAfterNFailures`, or could not go on; what its error callbacks receive. */
export class SwarmFailedError extends codedError('SWARM_FAILED', false) {}
/** A graph refused at creation: an unknown node, a cycle, an unreachable node, two default edges from one node, a malformed condition. */
export class InvalidGraphError extends codedError('INVALID_GRAPH', false) {}
/** A graph edge names a condition no `mf.condition()` registered in the worker that evaluates it: the graph fails with it. */
export class UnknownConditionError extends codedError('UNKNOWN_CONDITION', false) {}

/** The facts about a failure that error callbacks receive. */
export interface ErrorInfo {
  name: string;
  /** at most `MAX_ERROR_MESSAGE` characters. */
  message: string;
  code?: string;
  /** at most `MAX_ERROR_STACK` characters. */
  stack?: string;
  /** how many attempts were made before giving up. */
  attempts: number;
}

/** Stored error messages and stacks are cut to these sizes (characters). */
export const MAX_ERROR_MESSAGE = 4096;
export const MAX_ERROR_STACK = 8192;

/**
 * What is kept of anything a task threw: an Error's name, message, code and stack;
 * an object's `message`/`code`/`name` when it has them (`throw { code, message }`);
 * otherwise its text.
 */
export function describeError(error: unknown, attempts: number): ErrorInfo {
  const source = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const name = (error instanceof Error ? error.name : text(source?.name)) || 'Error';
  let message = error instanceof Error ? error.message : text(source?.message);
  if (message === undefined) message = source ? safeJson(error) : error === undefined ? 'undefined was thrown' : String(error);
  const code = source?.code;
  const stack = error instanceof Error ? error.stack : undefined;
  return {
    name: cut(name, 200),
    message: cut(message, MAX_ERROR_MESSAGE),
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    ...(stack ? { stack: cut(stack, MAX_ERROR_STACK) } : {}),
    attempts,
  };
}

function cut(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A server's URL as error messages name it: its password masked, and a URL that does
 * not parse (which may hold a password anywhere) not repeated at all. For stores.
 */
export function redactUrl(url: string, server: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return `a ${server} URL that does not parse`;
  }
}
