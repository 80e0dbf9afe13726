/**
 * How records travel to and from PostgreSQL. A record row's `body` is a JSON object
 * of field -> the field's value encoded as JSON text (see migrations.ts): SQL steps
 * compare and merge encoded values without decoding them, and a value may hold any
 * character, U+0000 included, which a jsonb string cannot.
 */
import {
  CorruptRecordError,
  decodeCursor,
  EXPECTABLE_FIELDS,
  parseRecord,
  type ListPosition,
  type ListQuery,
  type RecordUpdate,
  type SignatureRecord,
  type TimelineEntry,
} from '@mageflow/core';

/** A record's fields as a body: field -> encoded value (`undefined` fields left out). */
export function encodeFields(record: Partial<SignatureRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(record)) if (value !== undefined) out[field] = JSON.stringify(value);
  return out;
}

/** Encoded statuses, as the steps compare them. */
export function encodeStatuses(statuses: readonly string[]): string[] {
  return statuses.map((s) => JSON.stringify(s));
}

/** A stored body as a record, or a CorruptRecordError naming the key. */
export function decodeRecord(body: unknown, key: string): SignatureRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CorruptRecordError(`the PostgreSQL row under "${key}" is not a Mageflow record (its body is ${Array.isArray(body) ? 'a list' : typeof body})`, { details: { key } });
  }
  const value: Record<string, unknown> = {};
  for (const [field, encoded] of Object.entries(body as Record<string, unknown>)) {
    if (typeof encoded !== 'string') throw new CorruptRecordError(`the PostgreSQL row under "${key}" has a field "${field}" that is not an encoded value`, { details: { key } });
    value[field] = decodeValue(encoded, key);
  }
  return parseRecord(value, key);
}

/** One encoded value; `where` names what it belongs to in the error. */
export function decodeValue(encoded: string, where: string): unknown {
  try {
    return JSON.parse(encoded);
  } catch {
    throw new CorruptRecordError(`a value stored in PostgreSQL for "${where}" is not valid JSON`, { details: { key: where } });
  }
}

/** The update's arguments to the update_record step (see migrations.ts), from `expect_status` to `track`. */
export function updateArgs(update: RecordUpdate): unknown[] {
  let fields: Record<string, string | null> | null = null;
  for (const field of EXPECTABLE_FIELDS) {
    const wanted = update.expect?.[field];
    if (wanted !== undefined) (fields ??= {})[field] = wanted === null ? null : JSON.stringify(wanted);
  }
  return [
    update.expect?.status ? encodeStatuses(update.expect.status) : null,
    fields && JSON.stringify(fields),
    update.set ? JSON.stringify(encodeFields(update.set)) : null,
    update.unset && update.unset.length > 0 ? update.unset : null,
    update.ttlSec === undefined ? null : wholeSeconds(update.ttlSec),
    update.lockHolder ?? null,
    update.untrack ? 'untrack' : update.track ? 'track' : null,
  ];
}

/** Times to live are kept in whole seconds, at least one (as Redis keeps them). */
export function wholeSeconds(ttlSec: number): number {
  return Math.max(1, Math.ceil(ttlSec));
}

/** A timeline entry as the record row keeps it: [at, then status, from, worker, runId, attempt each encoded or null]. */
export type EncodedEntry = [number | string, string | null, string | null, string | null, string | null, string | null];

/** A kept timeline entry, decoded; fields not stored are left out. */
export function decodeTimelineEntry(entry: EncodedEntry, key: string): TimelineEntry {
  const [at, status, from, worker, runId, attempt] = entry;
  const where = `timeline of ${key}`;
  const out: TimelineEntry = { at: Number(at), status: (status === null ? undefined : decodeValue(status, where)) as TimelineEntry['status'] };
  if (from !== null) out.from = decodeValue(from, where) as TimelineEntry['status'];
  if (worker !== null) out.worker = decodeValue(worker, where) as string;
  if (runId !== null) out.runId = decodeValue(runId, where) as string;
  if (attempt !== null) out.attempt = decodeValue(attempt, where) as number;
  return out;
}

/** A record body as a record, or undefined when it is not a readable record (left out of listings). */
export function readableRecord(body: unknown, key: string): SignatureRecord | undefined {
  try {
    return decodeRecord(body, key);
  } catch (error) {
    if (error instanceof CorruptRecordError) return undefined;
    throw error;
  }
}

/** The listing's arguments to list_records and count_records (see migration-2.ts), from `roots` to `pat_enc`. */
export function listArgs(query: ListQuery): unknown[] {
  let hi: ListPosition | undefined = decodeCursor(query.cursor);
  // `to` is inclusive: walk from just past it, (to + 1, '') exclusive
  if (query.to !== undefined && (!hi || hi.at > query.to)) hi = { at: Math.floor(query.to) + 1, key: '' };
  const text = query.text ? query.text.toLowerCase() : null;
  return [
    query.roots === true,
    hi ? String(hi.at) : MAX_BIGINT,
    hi ? hi.key : '',
    query.from !== undefined ? String(Math.ceil(query.from)) : MIN_BIGINT,
    query.kinds ? encodeStatuses(query.kinds) : null,
    query.statuses ? encodeStatuses(query.statuses) : null,
    query.taskName !== undefined ? JSON.stringify(query.taskName) : null,
    text,
    text === null ? null : JSON.stringify(text).slice(1, -1),
  ];
}

const MAX_BIGINT = '9223372036854775807';
const MIN_BIGINT = '-9223372036854775808';
