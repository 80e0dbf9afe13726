/**
 * The one inspection and control API that the dashboard, the `mageflow` CLI and the MCP
 * server are thin layers over: list and count signatures, read one in detail with its
 * timeline, logs and progress, draw its tree, act on it (or on every signature a filter
 * matches), start a registered task, and follow the change feed.
 *
 * It reads through the Store port only, so it works on any store, from any process that
 * shares it (a dashboard beside the workers, or inside one).
 */
import type { Mageflow } from '../client';
import { ConfirmationRequiredError, InvalidArgumentError, MageflowError, SignatureNotFoundError, UnrecognizedTaskError, type ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { Kind, Status } from '../model/status';
import { decodeValue, encodeValue } from '../model/values';
import type { FeedSubscription, ListQuery, LogEntry, LogQuery, StatusCounts, StoreEvent, SwarmCounts, TimelineEntry } from '../ports/store';
import { buildInput } from '../runtime/message';
import { buildTree, type TreeNode, type TreeOptions } from './tree-view';
import { progressOf, type Progress } from './progress';

/** Where a value shown by the inspector comes from, as a redaction hook is told. */
export interface RedactionSite {
  key: string;
  field: 'kwargs' | 'message' | 'result' | 'error' | 'log';
}

export interface InspectorOptions {
  /**
   * Called on every user value before it leaves the inspector (kwargs, messages, results,
   * error messages, log fields): return what may be shown (e.g. with secrets masked).
   */
  redact?: (value: unknown, site: RedactionSite) => unknown;
}

/** A signature as a list shows it. */
export interface SignatureSummary {
  key: string;
  kind: Kind;
  taskName: string;
  name?: string;
  status: Status;
  creationTime: number;
  parent?: string;
  attempt?: number;
  worker?: string;
  /** the error message, when it failed. */
  error?: string;
}

/** A signature in full, as a detail panel shows it. Values are decoded and redacted. */
export interface SignatureDetail extends SignatureSummary {
  lastStatus?: Status;
  index?: number;
  priority?: string;
  kwargs: unknown;
  /** the message of its last dispatch. */
  message?: unknown;
  result?: unknown;
  hasResult: boolean;
  errorInfo?: ErrorInfo;
  runId?: string;
  dispatchedAt?: number;
  successCallbacks: string[];
  errorCallbacks: string[];
  cleanupCallbacks: string[];
  cleanupOf?: string;
  /** how its cleanup went: absent when nothing failed. */
  cleanupError?: ErrorInfo;
  members?: string[];
  swarm?: SignatureRecord['swarm'];
  counts?: SwarmCounts;
  progress?: Progress;
  /** seconds left to live. */
  ttlSec: number | null;
  timeline: TimelineEntry[];
}

/** A registered task, as the run form shows it. */
export interface TaskInfo {
  name: string;
  /** its input schema (JSON Schema, as given to `mf.task`). */
  inputSchema?: unknown;
  messageField?: string;
  retries: number;
  timeoutMs?: number;
}

export const ACTIONS = ['suspend', 'resume', 'interrupt', 'cancel', 'retry'] as const;
export type Action = (typeof ACTIONS)[number];

export interface BulkResult {
  done: string[];
  failed: { key: string; code: string; message: string }[];
  /** false when the filter matched more than `max` signatures: run it again for the rest. */
  complete: boolean;
}

/** A log entry with the signature it belongs to. */
export type KeyedLogEntry = LogEntry & { key: string };

export class Inspector {
  constructor(
    readonly mf: Mageflow,
    private readonly options: InspectorOptions = {},
  ) {}

  private get store() {
    return this.mf.store;
  }

  // --- reading ------------------------------------------------------------------

  /** A page of signatures, newest first (see `ListQuery`). */
  async list(query: ListQuery = {}): Promise<{ items: SignatureSummary[]; cursor?: string }> {
    const page = await this.store.listRecords(query);
    const items = page.records.map((r) => this.summary(r));
    return page.cursor ? { items, cursor: page.cursor } : { items };
  }

  /** How many signatures matching the filters are in each status. */
  async counts(query: ListQuery = {}): Promise<StatusCounts> {
    return this.store.countRecords(query);
  }

  /** A signature in full, or null when none is stored under `key`. */
  async get(key: string): Promise<SignatureDetail | null> {
    const record = await this.store.getRecord(key);
    if (!record) return null;
    const [timeline, ttlSec, counts] = await Promise.all([
      this.store.timeline(key),
      this.store.recordTtl(key),
      record.kind === 'swarm' ? this.store.swarmCounts(key) : undefined,
    ]);
    const detail: SignatureDetail = {
      ...this.summary(record),
      kwargs: this.show(decodeValue(record.kwargs), key, 'kwargs'),
      hasResult: record.result !== undefined,
      successCallbacks: record.successCallbacks,
      errorCallbacks: record.errorCallbacks,
      cleanupCallbacks: record.cleanupCallbacks ?? [],
      ttlSec,
      timeline,
    };
    if (record.lastStatus) detail.lastStatus = record.lastStatus;
    if (record.index !== undefined) detail.index = record.index;
    if (record.priority) detail.priority = record.priority;
    if (record.message) detail.message = this.show(decodeValue(record.message.value), key, 'message');
    if (record.result) detail.result = this.show(decodeValue(record.result.value), key, 'result');
    if (record.error) detail.errorInfo = this.showError(record.error, key);
    if (record.runId) detail.runId = record.runId;
    if (record.dispatchedAt) detail.dispatchedAt = record.dispatchedAt;
    if (record.cleanupOf) detail.cleanupOf = record.cleanupOf;
    if (record.cleanupError) detail.cleanupError = this.showError(record.cleanupError, key);
    if (record.members) detail.members = record.members;
    if (record.swarm) detail.swarm = record.swarm;
    if (counts) detail.counts = counts;
    if (record.kind !== 'task') detail.progress = await this.progress(record, timeline, counts);
    return detail;
  }

  /** The signature's status changes, oldest first. */
  async timeline(key: string): Promise<TimelineEntry[]> {
    return this.store.timeline(key);
  }

  /**
   * Log entries of a signature, oldest first; with `tree: true`, of its whole workflow
   * (members and callbacks, at most `treeLimit` signatures, default 1,000), merged by time.
   */
  async logs(key: string, query: LogQuery & { tree?: boolean; treeLimit?: number } = {}): Promise<KeyedLogEntry[]> {
    const keys = query.tree ? await this.treeKeys(key, query.treeLimit ?? 1000) : [key];
    const { tree: _tree, treeLimit: _limit, ...logQuery } = query;
    const all: KeyedLogEntry[] = [];
    for (let i = 0; i < keys.length; i += 50) {
      const batch = keys.slice(i, i + 50);
      const read = await Promise.all(batch.map((k) => this.store.readLogs(k, { ...logQuery, limit: undefined })));
      read.forEach((entries, j) => entries.forEach((e) => all.push(this.showLog({ ...e, key: batch[j]! }))));
    }
    all.sort((a, b) => a.at - b.at);
    return logQuery.limit !== undefined && all.length > logQuery.limit ? all.slice(all.length - logQuery.limit) : all;
  }

  /** The signature with its members and callbacks, nested, each with its status (swarm members paged). */
  async tree(key: string, options: TreeOptions = {}): Promise<TreeNode> {
    const root = await this.store.getRecord(key);
    if (!root) throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
    return buildTree(this.store, root, options, (record, timeline, counts) => this.progress(record, timeline, counts));
  }

  /** The tasks registered in this process, with their input schemas. */
  tasks(): TaskInfo[] {
    return this.mf.internals.runtime.registry.list().map((task) => {
      const info: TaskInfo = { name: task.name, retries: task.options.retries ?? 0 };
      if (task.options.input) info.inputSchema = JSON.parse(JSON.stringify(task.options.input));
      if (task.options.messageField) info.messageField = task.options.messageField;
      if (task.options.timeoutMs !== undefined) info.timeoutMs = task.options.timeoutMs;
      return info;
    });
  }

  // --- acting --------------------------------------------------------------------

  /**
   * Applies an action to a signature. `cancel` deletes it with its tree and needs
   * `{ confirm: true }`; `retry` starts a new signature of a failed task with the same
   * kwargs, callbacks and message, and returns its key.
   */
  async act(action: Action, key: string, options: { confirm?: boolean } = {}): Promise<{ key: string; retriedAs?: string }> {
    switch (action) {
      case 'suspend':
        await this.mf.suspend(key);
        return { key };
      case 'resume':
        await this.mf.resume(key);
        return { key };
      case 'interrupt':
        await this.mf.interrupt(key);
        return { key };
      case 'cancel':
        await this.mf.cancel(key, options);
        return { key };
      case 'retry':
        return { key, retriedAs: await this.retry(key) };
      default:
        throw new InvalidArgumentError(`unknown action ${JSON.stringify(action)}; one of ${ACTIONS.join(', ')}`);
    }
  }

  /**
   * The same action on every signature matching `query` (at most `max`, default 1,000,
   * newest first). Each is tried on its own: one that cannot take it is reported, not fatal.
   */
  async bulk(action: Action, query: ListQuery, options: { confirm?: boolean; max?: number } = {}): Promise<BulkResult> {
    if (!(ACTIONS as readonly string[]).includes(action)) throw new InvalidArgumentError(`unknown action ${JSON.stringify(action)}; one of ${ACTIONS.join(', ')}`);
    if (action === 'cancel' && options.confirm !== true) {
      throw new ConfirmationRequiredError('a bulk cancel deletes every matching signature and its tree for good: pass { confirm: true }');
    }
    const max = options.max ?? 1000;
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listRecords({ ...query, cursor, limit: Math.min(200, max - keys.length) });
      keys.push(...page.records.map((r) => r.key));
      cursor = page.cursor;
    } while (cursor !== undefined && keys.length < max);
    const result: BulkResult = { done: [], failed: [], complete: cursor === undefined };
    for (const key of keys) {
      try {
        await this.act(action, key, { confirm: options.confirm });
        result.done.push(key);
      } catch (error) {
        const e = error instanceof MageflowError ? error : undefined;
        result.failed.push({ key, code: e?.code ?? 'ERROR', message: error instanceof Error ? error.message : String(error) });
      }
    }
    return result;
  }

  /** Starts a registered task with `input`, validated against its schema first; returns the new signature's key. */
  async start(taskName: string, input: unknown = {}): Promise<string> {
    const task = this.mf.internals.runtime.registry.get(taskName);
    if (!task || !this.mf.internals.runtime.registry.isLocal(taskName)) {
      throw new UnrecognizedTaskError(`no task "${taskName}" is registered in this process`, { details: { task: taskName } });
    }
    encodeValue(input, 'the input');
    task.validate(buildInput(taskName, input, {}, task.options.messageField));
    const signature = await this.mf.sign(taskName);
    await signature.runNoWait(input);
    return signature.key;
  }

  // --- following -------------------------------------------------------------------

  /** Calls `listener` with every status change and log entry (redacted), until closed. */
  async subscribe(listener: (event: StoreEvent) => void): Promise<FeedSubscription> {
    return this.store.subscribe((event) => listener(event.type === 'log' ? { ...event, entry: this.showLog({ ...event.entry, key: event.key }) } : event));
  }

  // --- internals ---------------------------------------------------------------------

  private async retry(key: string): Promise<string> {
    const record = await this.store.getRecord(key);
    if (!record) throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
    if (record.status !== 'failed') throw new InvalidArgumentError(`only a failed signature can be retried; "${key}" is ${record.status}`, { details: { key } });
    if (record.kind !== 'task' || record.parent !== undefined) {
      throw new InvalidArgumentError(`retry starts a failed task again on its own; "${key}" is ${record.parent ? 'a member of ' + record.parent : 'a ' + record.kind}`, {
        details: { key },
      });
    }
    const copy = await this.mf.sign(record.taskName, {
      kwargs: decodeValue(record.kwargs) as Record<string, unknown>,
      successCallbacks: record.successCallbacks,
      errorCallbacks: record.errorCallbacks,
    });
    await copy.runNoWait(record.message ? decodeValue(record.message.value) : undefined);
    return copy.key;
  }

  private async progress(record: SignatureRecord, timeline?: TimelineEntry[], counts?: SwarmCounts): Promise<Progress> {
    return progressOf(this.store, record, timeline ?? (await this.store.timeline(record.key)), counts);
  }

  private async treeKeys(key: string, limit: number): Promise<string[]> {
    const keys: string[] = [];
    const seen = new Set<string>();
    let frontier = [key];
    while (frontier.length > 0 && keys.length < limit) {
      const batch = frontier.filter((k) => !seen.has(k)).slice(0, limit - keys.length);
      frontier = [];
      batch.forEach((k) => (seen.add(k), keys.push(k)));
      for (const record of await this.store.getRecords(batch)) {
        if (!record) continue;
        frontier.push(...record.successCallbacks, ...record.errorCallbacks, ...(record.cleanupCallbacks ?? []));
        if (record.kind === 'chain' || record.kind === 'graph') frontier.push(...(record.members ?? []));
        if (record.kind === 'swarm') frontier.push(...(await this.store.swarmMembers(record.key, { offset: 0, limit })));
      }
    }
    return keys;
  }

  private summary(record: SignatureRecord): SignatureSummary {
    const out: SignatureSummary = { key: record.key, kind: record.kind, taskName: record.taskName, status: record.status, creationTime: record.creationTime };
    if (record.name !== undefined) out.name = record.name;
    if (record.parent !== undefined) out.parent = record.parent;
    if (record.attempt !== undefined) out.attempt = record.attempt;
    if (record.worker !== undefined) out.worker = record.worker;
    if (record.error) out.error = String(this.show(record.error.message, record.key, 'error'));
    return out;
  }

  private show(value: unknown, key: string, field: RedactionSite['field']): unknown {
    return this.options.redact ? this.options.redact(value, { key, field }) : value;
  }

  private showError(error: ErrorInfo, key: string): ErrorInfo {
    return { ...error, message: String(this.show(error.message, key, 'error')) };
  }

  private showLog<E extends LogEntry & { key: string }>(entry: E): E {
    if (!this.options.redact || entry.fields === undefined) return entry;
    return { ...entry, fields: this.show(entry.fields, entry.key, 'log') as Record<string, unknown> };
  }
}

