/**
 * The one value codec every store shares. User values (kwargs, messages, results)
 * are encoded at the API boundary into plain JSON, so any store that keeps JSON
 * faithfully keeps them faithfully, and a value that cannot be kept is refused
 * before anything is written, with the path to it.
 *
 * Plain JSON (objects, arrays, strings, booleans, null, finite numbers) encodes to
 * itself. These come back as they went in, on every store: `undefined`, `NaN`,
 * `Infinity`, `-0`, `BigInt`, `Date`, `Map`, `Set`, `RegExp`, `Uint8Array` (as a
 * Buffer on Node). They are stored as objects tagged with `$mf`; a user object
 * that has its own `$mf` key is escaped the same way. Refused: functions, symbols,
 * symbol-keyed properties, class instances, cycles, and nesting deeper than
 * `MAX_DEPTH`. Shared references are stored as copies.
 */
import { InvalidInputError } from '../errors';

export const MAX_DEPTH = 128;
const TAG = '$mf';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Encodes a user value for storage; `what` names it in the error ("kwargs", "the result of task x"). */
export function encodeValue(value: unknown, what: string, errorClass: typeof InvalidInputError = InvalidInputError): Json {
  // What is its own encoding (most results and messages) costs no walk.
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) return value;
  const seen = new Set<object>();
  const refuse = (path: string, problem: string): never => {
    throw new errorClass(`${what} cannot be stored: ${problem} at ${path || '/'}`, { details: { path: path || '/', problem } });
  };
  const walk = (v: unknown, path: string, depth: number): Json => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (Number.isFinite(v)) return Object.is(v, -0) ? tagged('num', '-0') : v;
        return tagged('num', String(v));
      case 'undefined':
        return tagged('undefined', null);
      case 'bigint':
        return tagged('bigint', v.toString());
      case 'function':
        return refuse(path, `a function (${(v as { name?: string }).name || 'anonymous'})`);
      case 'symbol':
        return refuse(path, `a symbol (${String(v)})`);
    }
    if (v === null) return null;
    const object = v as object;
    if (depth >= MAX_DEPTH) return refuse(path, `nesting deeper than ${MAX_DEPTH} levels`);
    if (seen.has(object)) return refuse(path, 'a cycle (a value that contains itself)');
    seen.add(object);
    try {
      if (Array.isArray(object)) {
        const out: Json[] = new Array(object.length);
        for (let i = 0; i < object.length; i++) out[i] = walk(object[i], `${path}/${i}`, depth + 1);
        return out;
      }
      if (object instanceof Date) return tagged('date', Number.isNaN(object.getTime()) ? null : object.toISOString());
      if (object instanceof Map) {
        let i = 0;
        const entries: Json[] = [];
        for (const [k, item] of object) {
          entries.push([walk(k, `${path}/<map key ${i}>`, depth + 1), walk(item, `${path}/${escapeSegment(String(k))}`, depth + 1)]);
          i++;
        }
        return tagged('map', entries);
      }
      if (object instanceof Set) {
        let i = 0;
        const items: Json[] = [];
        for (const item of object) items.push(walk(item, `${path}/<set item ${i++}>`, depth + 1));
        return tagged('set', items);
      }
      if (object instanceof RegExp) return tagged('regexp', [object.source, object.flags]);
      if (object instanceof Uint8Array) return tagged('bytes', Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64'));
      const proto = Object.getPrototypeOf(object);
      if (proto !== null && Object.getPrototypeOf(proto) !== null) {
        return refuse(path, `an instance of ${proto.constructor?.name || 'a class'} (only plain data is stored)`);
      }
      if (Object.getOwnPropertySymbols(object).length > 0) return refuse(path, 'a symbol-keyed property');
      const out: { [key: string]: Json } = {};
      for (const key of Object.keys(object)) out[key] = walk((object as Record<string, unknown>)[key], `${path}/${escapeSegment(key)}`, depth + 1);
      return Object.prototype.hasOwnProperty.call(out, TAG) ? tagged('object', out) : out;
    } finally {
      seen.delete(object);
    }
  };
  return walk(value, '', 0);
}

/** Decodes a stored value into fresh objects (the caller may change them freely). */
export function decodeValue(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null) return stored;
  if (Array.isArray(stored)) return stored.map(decodeValue);
  const record = stored as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, TAG)) {
    const v = record.v;
    switch (record[TAG]) {
      case 'undefined':
        return undefined;
      case 'num':
        return v === '-0' ? -0 : Number(v);
      case 'bigint':
        return BigInt(v as string);
      case 'date':
        return new Date(v === null ? Number.NaN : (v as string));
      case 'map':
        return new Map((v as [unknown, unknown][]).map(([k, item]) => [decodeValue(k), decodeValue(item)]));
      case 'set':
        return new Set((v as unknown[]).map(decodeValue));
      case 'regexp':
        return new RegExp((v as string[])[0]!, (v as string[])[1]);
      case 'bytes':
        return Buffer.from(v as string, 'base64');
      case 'object':
        return decodePlain(v as Record<string, unknown>);
    }
  }
  return decodePlain(record);
}

function decodePlain(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) out[key] = decodeValue(record[key]);
  return out;
}

function tagged(type: string, v: Json): Json {
  return { [TAG]: type, v };
}

/** JSON Pointer escaping, so a path names the key unambiguously. */
function escapeSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
