/**
 * `ctx.log` in a task body, and the runtime's own notable events about a signature:
 * entries are kept in the store with the signature (`Store.appendLogs`), batched so a
 * body that logs in a loop costs one store call per tick. Logging never fails a run: a
 * store that cannot take the entries is reported to the configured logger.
 */
import type { LogEntry, LogLevel } from '../ports/store';
import type { Runtime } from './runtime';

/** What a task body logs with: entries kept with its signature, shown by the dashboard, the CLI and the MCP server. */
export interface TaskLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** resolves once every entry logged so far is stored (or given up on). */
  flush(): Promise<void>;
}

export interface RunInfo {
  runId: string;
  attempt: number;
}

/**
 * A logger for one run of signature `key` (undefined: a plain run, whose lines go to the
 * configured logger only).
 */
export function taskLogger(rt: Runtime, key: string | undefined, run: RunInfo, source: LogEntry['source'] = 'task'): TaskLogger {
  let pending: LogEntry[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0 || key === undefined) return flushing;
    const entries = pending;
    pending = [];
    flushing = flushing.then(() =>
      rt.store.appendLogs(key, entries).catch((error) => rt.log.warn('could not keep log entries', { key, count: entries.length, error: String(error) })),
    );
    return flushing;
  };
  const write = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    const entry: LogEntry = { at: Date.now(), level, message: String(message), source, runId: run.runId, attempt: run.attempt, worker: rt.workerId };
    if (fields !== undefined) entry.fields = plainFields(fields);
    if (key === undefined) return rt.log[level](message, { ...fields, runId: run.runId });
    pending.push(entry);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return { info: write('info'), warn: write('warn'), error: write('error'), flush: () => flush() };
}

/** Records one of the runtime's notable events about a signature, without waiting for it. */
export function noteEvent(rt: Runtime, key: string, run: RunInfo | undefined, level: LogLevel, message: string, fields?: Record<string, unknown>): Promise<void> {
  const entry: LogEntry = { at: Date.now(), level, message, source: 'runtime', worker: rt.workerId };
  if (run) Object.assign(entry, { runId: run.runId, attempt: run.attempt });
  if (fields !== undefined) entry.fields = plainFields(fields);
  return rt.store.appendLogs(key, [entry]).catch((error) => rt.log.warn('could not keep a log entry', { key, message, error: String(error) }));
}

/** Fields as JSON keeps them: what cannot be encoded becomes its string form, never a failed log call. */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? { name: v.name, message: v.message } : v))) as Record<string, unknown>;
  } catch {
    return { value: String(fields) };
  }
}
