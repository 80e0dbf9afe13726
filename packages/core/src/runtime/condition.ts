/**
 * Conditions on graph edges. They are evaluated by whichever worker finishes the
 * edge's source node, possibly not the process that built the graph, so they are
 * data, stored with the graph: a declarative predicate on the source's output, or
 * the name of a condition function registered with `mf.condition()` in every
 * worker. A name no worker-side function answers to is an `UnknownConditionError`
 * (the graph fails with it), never a silent skip.
 */
import { InvalidGraphError, UnknownConditionError } from '../errors';
import { isPlainObject } from './message';

/**
 * A comparison on the value at `path` in the output (dot-separated, array positions
 * as numbers: `"items.0.price"`; absent or `""`: the whole output). Every operator
 * given must hold.
 */
export interface Comparison {
  path?: string;
  /** equal (deep, as JSON). */
  eq?: unknown;
  ne?: unknown;
  /** numbers with numbers, strings with strings. */
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  /** equal to one of these. */
  in?: readonly unknown[];
  /** true: the path leads to a value (not undefined); false: it does not. */
  exists?: boolean;
}

/** A condition registered with `mf.condition(name, fn)`, called with the output and `args`. */
export interface NamedCondition {
  condition: string;
  args?: unknown;
}

/** What an edge's `when` holds. */
export type Condition = Comparison | NamedCondition | { and: readonly Condition[] } | { or: readonly Condition[] } | { not: Condition };

/** A condition function: given the source node's output (and the edge's `args`), whether to take the edge. */
export type ConditionFn = (output: unknown, args: unknown) => boolean | Promise<boolean>;

const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists'] as const;
const COMPARISON_FIELDS = new Set<string>(['path', ...OPERATORS]);

/** Checks a condition's shape when the graph is made; `where` names the edge in the error. */
export function checkCondition(condition: unknown, where: string): asserts condition is Condition {
  const refuse = (why: string): never => {
    throw new InvalidGraphError(`${where}: ${why}`, { details: { where } });
  };
  if (!isPlainObject(condition)) return refuse(`a condition must be an object, got ${JSON.stringify(condition) ?? String(condition)}`);
  const keys = Object.keys(condition);
  if ('and' in condition || 'or' in condition) {
    const list = (condition as { and?: unknown; or?: unknown }).and ?? (condition as { or?: unknown }).or;
    if (keys.length !== 1 || !Array.isArray(list) || list.length === 0) return refuse('"and"/"or" take a non-empty list of conditions, alone');
    list.forEach((c, i) => checkCondition(c, `${where} (${keys[0]} ${i})`));
    return;
  }
  if ('not' in condition) {
    if (keys.length !== 1) return refuse('"not" takes one condition, alone');
    checkCondition(condition.not, `${where} (not)`);
    return;
  }
  if ('condition' in condition) {
    if (typeof condition.condition !== 'string' || condition.condition.length === 0) return refuse('a named condition needs a name');
    if (keys.some((k) => k !== 'condition' && k !== 'args')) return refuse('a named condition takes only "condition" and "args"');
    if ('args' in condition && !isJsonData(condition.args)) return refuse(`"args" takes JSON data, got ${describeValue(condition.args)}`);
    return;
  }
  const unknown = keys.filter((k) => !COMPARISON_FIELDS.has(k));
  if (unknown.length > 0) return refuse(`unknown condition field "${unknown[0]}" (comparisons: ${OPERATORS.join(', ')}; or and/or/not/condition)`);
  if (!OPERATORS.some((op) => op in condition)) return refuse('a comparison needs an operator');
  if (condition.path !== undefined && typeof condition.path !== 'string') return refuse('"path" must be a string');
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (op in condition && typeof condition[op] !== 'number' && typeof condition[op] !== 'string') return refuse(`"${op}" takes a number or a string`);
  }
  if ('in' in condition && !Array.isArray(condition.in)) return refuse('"in" takes a list');
  if ('exists' in condition && typeof condition.exists !== 'boolean') return refuse('"exists" takes true or false');
  for (const op of ['eq', 'ne', 'in'] as const) {
    if (op in condition && !isJsonData(condition[op])) return refuse(`"${op}" takes JSON data (null, booleans, finite numbers, strings, lists and plain objects of them), got ${describeValue(condition[op])}`);
  }
}

/**
 * Whether a value is plain JSON data: what a condition may hold, since it is stored with
 * the graph and must read back the same from every store.
 */
function isJsonData(value: unknown, depth = 0): boolean {
  if (depth > 64) return false; // deeper than any condition needs (and a cycle never ends)
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonData(item, depth + 1));
  if (isPlainObject(value)) return Object.values(value).every((item) => isJsonData(item, depth + 1));
  return false;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !isPlainObject(value)) return `a ${value.constructor?.name ?? 'non-plain object'}`;
  return typeof value === 'bigint' || typeof value === 'symbol' ? `a ${typeof value}` : 'a value that is not JSON data (NaN, Infinity, or too deep or circular)';
}

/** Whether `output` meets the condition; a named condition missing here is an `UnknownConditionError`. */
export async function evaluateCondition(condition: Condition, output: unknown, named: ReadonlyMap<string, ConditionFn>): Promise<boolean> {
  if ('and' in condition) {
    for (const c of condition.and) if (!(await evaluateCondition(c, output, named))) return false;
    return true;
  }
  if ('or' in condition) {
    for (const c of condition.or) if (await evaluateCondition(c, output, named)) return true;
    return false;
  }
  if ('not' in condition) return !(await evaluateCondition(condition.not, output, named));
  if ('condition' in condition) {
    const fn = named.get(condition.condition);
    if (!fn) {
      throw new UnknownConditionError(`no condition "${condition.condition}" is registered in this worker; register it with mf.condition() in every worker`, {
        details: { condition: condition.condition },
      });
    }
    const taken = await fn(output, condition.args);
    if (typeof taken !== 'boolean') {
      throw new InvalidGraphError(`condition "${condition.condition}" returned ${describeResult(taken)}, not true or false`, { details: { condition: condition.condition } });
    }
    return taken;
  }
  return compare(condition, valueAt(output, condition.path));
}

function compare(c: Comparison, value: unknown): boolean {
  if ('exists' in c && (value !== undefined) !== c.exists) return false;
  if ('eq' in c && !same(value, c.eq)) return false;
  if ('ne' in c && same(value, c.ne)) return false;
  if ('in' in c && !c.in!.some((item) => same(value, item))) return false;
  const ordered = (bound: number | string | undefined, holds: (a: number | string, b: number | string) => boolean) =>
    bound === undefined || (typeof value === typeof bound && (typeof value === 'number' || typeof value === 'string') && holds(value, bound));
  return ordered(c.gt, (a, b) => a > b) && ordered(c.gte, (a, b) => a >= b) && ordered(c.lt, (a, b) => a < b) && ordered(c.lte, (a, b) => a <= b);
}

/** The value at a dot path: list positions and a plain object's own fields only (never `constructor`, `length`...). */
function valueAt(output: unknown, path: string | undefined): unknown {
  if (path === undefined || path === '') return output;
  let value = output;
  for (const segment of path.split('.')) {
    if (Array.isArray(value)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment) || Number(segment) >= value.length) return undefined;
      value = value[Number(segment)];
    } else if (isPlainObject(value) && Object.prototype.propertyIsEnumerable.call(value, segment)) {
      value = (value as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return value;
}

/** Deep equality of JSON data, whatever the order of an object's fields. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => same(item, b[i]));
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k]));
}

function describeResult(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' && value !== null ? 'an object' : String(value);
}

/** A short text for a condition, for diagrams. */
export function describeCondition(condition: Condition): string {
  if ('and' in condition) return condition.and.map(describeCondition).join(' and ');
  if ('or' in condition) return condition.or.map(describeCondition).join(' or ');
  if ('not' in condition) return `not (${describeCondition(condition.not)})`;
  if ('condition' in condition) return condition.condition;
  const path = condition.path || 'output';
  const parts: string[] = [];
  const symbols = { eq: '==', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
  for (const op of ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const) if (op in condition) parts.push(`${path} ${symbols[op]} ${JSON.stringify(condition[op])}`);
  if (condition.in) parts.push(`${path} in ${JSON.stringify(condition.in)}`);
  if (condition.exists !== undefined) parts.push(condition.exists ? `${path} exists` : `no ${path}`);
  return parts.join(' and ');
}
