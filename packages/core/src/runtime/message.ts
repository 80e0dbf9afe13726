/**
 * How a run's input is made: the message (what the run was sent) is wrapped into
 * the task's message field if it declares one, then the signature's bound kwargs
 * are merged over it, kwargs winning on conflict.
 */
import { InvalidInputError } from '../errors';
import type { SignatureRecord } from '../model/record';
import { decodeValue, encodeValue } from '../model/values';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  // Any realm's Object.prototype (values cloned across realms keep their own).
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** Merges `over` into `base` recursively (plain objects only); `over` wins. Inputs are not modified. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (isPlainObject(over) && Object.keys(over).length === 0) return base; // nothing to merge: keep non-object messages as they are
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = key in out ? deepMerge(out[key], value) : value;
  return out;
}

export function buildInput(taskName: string, message: unknown, kwargs: Record<string, unknown>, messageField?: string): unknown {
  if (messageField !== undefined) return deepMerge(message === undefined ? {} : { [messageField]: message }, kwargs);
  if (message === undefined || message === null) return Object.keys(kwargs).length > 0 ? { ...kwargs } : message ?? {};
  if (isPlainObject(message)) return deepMerge(message, kwargs);
  if (Object.keys(kwargs).length === 0) return message;
  throw new InvalidInputError(
    `task "${taskName}" was sent a ${Array.isArray(message) ? 'list' : typeof message} and has bound kwargs; ` +
      `declare a messageField on the task so the message has a place in its input`,
  );
}

/**
 * The message a container hands its members: its own message with its kwargs
 * merged over. Both are stored encoded; the merge is of the values they stand for.
 * Made once per record read: a swarm hands the same message to every member.
 */
export function containerMessage(container: SignatureRecord): unknown {
  if (merged.has(container)) return merged.get(container);
  const message = encodeValue(deepMerge(decodeValue(container.message?.value), decodeValue(container.kwargs)), 'the message');
  merged.set(container, message);
  return message;
}

const merged = new WeakMap<SignatureRecord, unknown>();
