/**
 * What every Store implementation does the same way for observability: the listing
 * cursor's format, the filters a listed record must pass, and log filtering. Exported
 * so stores agree on them (a cursor from one page is handed back to the same store).
 */
import { InvalidArgumentError } from '../errors';
import type { SignatureRecord } from '../model/record';
import { STATUSES, type Status } from '../model/status';
import { LOG_MESSAGE_MAX, type ListQuery, type LogEntry, type LogQuery, type MemberPage } from '../ports/store';

/** A page of a swarm's members or results must have a whole offset and limit of 0 or more (InvalidArgumentError). */
export function checkMemberPage(page: MemberPage): void {
  const whole = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (typeof page !== 'object' || page === null || !whole(page.offset) || !whole(page.limit)) {
    throw new InvalidArgumentError(`a page of members needs a whole offset and limit of 0 or more, got ${JSON.stringify(page)}`);
  }
}

/** Default page size and scan budget of a listing. */
export const LIST_LIMIT = 50;
export const LIST_SCAN_LIMIT = 10_000;

/** A listing position: the creation time and key of the last entry seen (entries are ordered by both, newest first). */
export interface ListPosition {
  at: number;
  key: string;
}

export function encodeCursor(position: ListPosition): string {
  return `${position.at}:${position.key}`;
}

export function decodeCursor(cursor: string | undefined): ListPosition | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const colon = cursor.indexOf(':');
  const at = Number(cursor.slice(0, colon));
  if (colon <= 0 || !Number.isFinite(at)) throw new InvalidArgumentError(`not a listing cursor: ${JSON.stringify(cursor)}`);
  return { at, key: cursor.slice(colon + 1) };
}

/** The query's limits, checked (a typed error before anything is read). */
export function listLimits(query: ListQuery): { limit: number; scanLimit: number } {
  const limit = query.limit ?? LIST_LIMIT;
  const scanLimit = query.scanLimit ?? LIST_SCAN_LIMIT;
  for (const [name, value] of [['limit', limit], ['scanLimit', scanLimit]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return { limit, scanLimit };
}

/** Whether a record passes the query's filters (creation time bounds included). */
export function matchesListQuery(record: SignatureRecord, query: ListQuery): boolean {
  if (query.kinds && !query.kinds.includes(record.kind)) return false;
  if (query.statuses && !query.statuses.includes(record.status)) return false;
  if (query.taskName !== undefined && record.taskName !== query.taskName) return false;
  if (query.roots && record.parent !== undefined) return false;
  if (query.from !== undefined && record.creationTime < query.from) return false;
  if (query.to !== undefined && record.creationTime > query.to) return false;
  if (query.text) {
    const text = query.text.toLowerCase();
    if (!record.key.toLowerCase().includes(text) && !(record.name ?? '').toLowerCase().includes(text) && !record.taskName.toLowerCase().includes(text)) return false;
  }
  return true;
}

export function emptyStatusCounts(): Record<Status, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
}

/** The entries a log query asks for, from a signature's log (oldest first). */
export function filterLogs(entries: readonly LogEntry[], query: LogQuery = {}): LogEntry[] {
  const text = query.text?.toLowerCase();
  let out = entries.filter(
    (e) =>
      (!query.levels || query.levels.includes(e.level)) &&
      (!text || e.message.toLowerCase().includes(text) || (e.fields !== undefined && JSON.stringify(e.fields).toLowerCase().includes(text))),
  );
  if (query.limit !== undefined && out.length > query.limit) out = out.slice(out.length - query.limit);
  return out;
}

/** A log entry as a store keeps it: its message cut at LOG_MESSAGE_MAX; refused when it is not one. */
export function checkLogEntry(key: string, entry: LogEntry): LogEntry {
  if (typeof entry?.message !== 'string' || !['info', 'warn', 'error'].includes(entry.level) || !Number.isFinite(entry.at)) {
    throw new InvalidArgumentError(`not a log entry for "${key}": ${JSON.stringify(entry)?.slice(0, 200)}`);
  }
  return entry.message.length > LOG_MESSAGE_MAX ? { ...entry, message: `${entry.message.slice(0, LOG_MESSAGE_MAX)}…` } : entry;
}


