/**
 * Checks of what callers hand the API, made before anything is stored. Each
 * refusal is an `InvalidArgumentError` (or `InvalidInputError` for values) that
 * names the argument and shows what was given.
 */
import { InvalidArgumentError } from './errors';
import { encodeValue } from './model/values';
import { isPlainObject } from './runtime/message';

/** A short picture of a value for an error message. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return isPlainObject(value) ? 'an object' : `an instance of ${value.constructor?.name ?? 'a class'}`;
  return `${typeof value} ${String(value)}`;
}

/** A task name, a task handle, a signature, or (where `keys`) a signature key. */
export function checkInput(input: unknown, where: string): void {
  if (typeof input === 'string' && input.length > 0) return;
  if (typeof input === 'object' && input !== null && typeof (input as { key?: unknown }).key === 'string' && 'status' in input) return; // a Signature
  if (typeof input === 'object' && input !== null && typeof (input as { name?: unknown }).name === 'string' && typeof (input as { sign?: unknown }).sign === 'function') return; // a task handle
  throw new InvalidArgumentError(`${where} must be a task name, a task handle, a signature or a signature key; got ${show(input)}`, { details: { where } });
}

/** Options objects: absent or a plain object. */
export function checkOptions(options: unknown, where: string): void {
  if (options === undefined || isPlainObject(options)) return;
  throw new InvalidArgumentError(`${where} must be an object, got ${show(options)}`, { details: { where } });
}

/** Bound kwargs, validated as a plain object and encoded for storage. */
export function storedKwargs(kwargs: unknown, owner: string): Record<string, unknown> {
  if (kwargs === undefined) return {};
  if (!isPlainObject(kwargs)) throw new InvalidArgumentError(`kwargs of ${owner} must be a plain object, got ${show(kwargs)}`, { details: { owner } });
  return encodeValue(kwargs, `kwargs of ${owner}`) as Record<string, unknown>;
}

export function checkName(name: unknown): string {
  if (typeof name === 'string' && name.length > 0 && name.length <= 200) return name;
  throw new InvalidArgumentError(`name must be a string of 1 to 200 characters, got ${show(name)}`);
}

/** A creation time: a valid Date or a finite number of ms since the epoch. */
export function checkTime(value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
  if (Number.isFinite(ms)) return ms;
  throw new InvalidArgumentError(`creationTime must be a valid Date or a number of ms since the epoch, got ${show(value)}`);
}

/** A task's options: counts and limits that an engine would otherwise take as nonsense. */
export function checkTaskOptions(name: string, taskOptions: object): void {
  const options = taskOptions as Record<string, unknown>;
  const integer = (field: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = options[field];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`task "${name}" option ${field} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${show(value)}`);
    }
  };
  integer('retries', 0);
  integer('timeoutMs', 1);
  integer('concurrency', 1);
  integer('priority', 1, 3);
  integer('cleanupTimeoutMs', 1);
  if (options.cleanup !== undefined && typeof options.cleanup !== 'function') {
    throw new InvalidArgumentError(`task "${name}" option cleanup must be a function, got ${show(options.cleanup)}`);
  }
  if (options.messageField !== undefined && (typeof options.messageField !== 'string' || options.messageField.length === 0)) {
    throw new InvalidArgumentError(`task "${name}" option messageField must be a field name, got ${show(options.messageField)}`);
  }
  if (options.input !== undefined && (typeof options.input !== 'object' || options.input === null)) {
    throw new InvalidArgumentError(`task "${name}" option input must be a schema, got ${show(options.input)}`);
  }
}

/** `run()` / `wait()` options: checked before anything starts. */
export function checkRunOptions(options: unknown): void {
  checkOptions(options, 'run/wait options');
  const timeoutMs = (options as { timeoutMs?: unknown } | undefined)?.timeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new InvalidArgumentError(`timeoutMs must be a number of milliseconds, 0 or more, got ${show(timeoutMs)}`);
  }
}

/** Refuses option names it does not know (a misspelt `sucess` would otherwise be ignored). */
export function checkKnownOptions(options: object | undefined, known: readonly string[], where: string): void {
  for (const name of Object.keys(options ?? {})) {
    if (!known.includes(name)) throw new InvalidArgumentError(`unknown option "${name}" in ${where}; known: ${known.join(', ')}`, { details: { where, option: name } });
  }
}

export const SIGN_OPTIONS = ['kwargs', 'successCallbacks', 'errorCallbacks', 'cleanup', 'inputSchema', 'priority', 'status', 'creationTime'] as const;
export const CHAIN_OPTIONS = ['name', 'success', 'error', 'cleanup', 'kwargs'] as const;
export const SWARM_OPTIONS = ['name', 'config', 'success', 'error', 'cleanup', 'memberSuccess', 'memberError', 'kwargs'] as const;
export const GRAPH_OPTIONS = ['nodes', 'edges', 'entry', 'name', 'success', 'error', 'cleanup', 'kwargs', 'maxConcurrency'] as const;
