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
