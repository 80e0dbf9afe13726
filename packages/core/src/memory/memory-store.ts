/**
 * The embedded Store: everything in this process's memory. Each method does its
 * reads and writes without awaiting in between, so every step is atomic with
 * respect to other callers in the process.
 *
 * Stored records belong to the store: each version is built once, never changed
 * in place and never handed out. What comes in is copied, and every record a
 * caller gets is a fresh copy, so no caller can change stored state by holding on
 * to an object. A new version shares the fields an update left alone with the
 * version before it, and only the fields written are copied and validated.
 */
import type { Priority } from '../model/priority';
import { checkRecordUpdate, parseRecord, type SignatureRecord } from '../model/record';
import { TIMELINE_CAP, LOG_CAP } from '../ports/store';
import type {
  AuditEntry,
  FeedSubscription,
  ListPage,
  ListQuery,
  LogEntry,
  LogQuery,
  StatusCounts,
  StoreEvent,
  TimelineEntry,
  Claimed,
  ClaimOptions,
  CreateOptions,
  FinishResult,
  GraphSettleResult,
  GraphSettleStep,
  GraphState,
  MemberPage,
  RecordUpdate,
  SlotHolder,
  Store,
  SwarmAddOptions,
  SwarmAddResult,
  SwarmCounts,
  UpdateResult,
} from '../ports/store';
import { matches } from '../ports/expectation';
import { CorruptRecordError, InvalidArgumentError } from '../errors';
import { ExpiringMap } from './expiring-map';
import { GraphProgress, SwarmState } from './swarm-state';
import { CreationIndex } from './creation-index';
import { checkLogEntry, checkMemberPage, decodeCursor, emptyStatusCounts, encodeCursor, filterLogs, listLimits, matchesListQuery, type ListPosition } from '../observability/store-helpers';

/** A value put under a record key by `corrupt()`: validated on each read until it is a valid record. */
class Unchecked {
  constructor(readonly value: unknown) {}
}

type UpdateFailure = Exclude<UpdateResult, { ok: true }>;

export interface MemoryStoreOptions {
  /** clock in ms, for tests that move time. */
  now?: () => number;
  /** how often expired entries are dropped, in ms. Default 1000. */
  purgeEveryMs?: number;
}

/** Workers' heartbeats and locks are filed by expiry like records: an idle process holds only live work. */
export class MemoryStore implements Store {
  private readonly now: () => number;
  private readonly open = new Set<string>();
  private readonly records: ExpiringMap<SignatureRecord | Unchecked>;
  private readonly swarms: ExpiringMap<SwarmState>;
  private readonly locks: ExpiringMap<string>;
  private readonly workers: ExpiringMap<true>;
  private readonly audits: ExpiringMap<AuditEntry[]>;
  private readonly timelines: ExpiringMap<TimelineEntry[]>;
  private readonly logs: ExpiringMap<LogEntry[]>;
  /** every record, and the records without a parent, by creation time. */
  private readonly index: CreationIndex;
  private readonly rootIndex: CreationIndex;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly purgeEveryMs: number;
  private nextPurgeAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.purgeEveryMs = options.purgeEveryMs ?? 1000;
    this.records = new ExpiringMap(this.now, (key) => this.forget(key));
    // `holds`, not `has`: the indexes may compact while a purge is dropping expired records
    this.index = new CreationIndex((key) => this.records.holds(key));
    this.rootIndex = new CreationIndex((key) => this.records.holds(key));
    this.swarms = new ExpiringMap(this.now);
    this.locks = new ExpiringMap(this.now);
    this.workers = new ExpiringMap(this.now);
    this.audits = new ExpiringMap(this.now);
    this.timelines = new ExpiringMap(this.now);
    this.logs = new ExpiringMap(this.now);
  }

  private forget(key: string): void {
    this.open.delete(key);
    this.index.forget();
    this.rootIndex.forget();
  }

  /** Drops every expired entry now; returns how many. Also runs on its own every `purgeEveryMs`. */
  purgeExpired(): number {
    this.nextPurgeAt = this.now() + this.purgeEveryMs;
    return [this.records, this.swarms, this.locks, this.workers, this.audits, this.timelines, this.logs].reduce((n, map) => n + map.purge(), 0);
  }

  /** Entries held (live or not yet purged), for tests of memory use. */
  size(): { records: number; swarms: number; open: number; locks: number; workers: number; audits: number; timelines: number; logs: number; indexed: number } {
    return {
      records: this.records.size, swarms: this.swarms.size, open: this.open.size, locks: this.locks.size, workers: this.workers.size, audits: this.audits.size,
      timelines: this.timelines.size, logs: this.logs.size, indexed: this.index.size,
    };
  }

  // --- records ---------------------------------------------------------------

  async createRecords(records: readonly SignatureRecord[], options: CreateOptions): Promise<void> {
    this.tick();
    const keys = new Set<string>();
    for (const record of records) {
      if (keys.has(record.key) || this.records.has(record.key)) throw new InvalidArgumentError(`a signature "${record.key}" already exists`);
      keys.add(record.key);
    }
    // All or none: every copy is made before the first one is stored.
    const copies = records.map((record) => {
      try {
        return parseRecord(copyJson(record), record.key);
      } catch (error) {
        throw new InvalidArgumentError(`cannot create "${record.key}": ${(error as Error).message}`, { cause: error });
      }
    });
    const expiresAt = this.expiry(options.ttlSec);
    const at = this.now();
    for (const copy of copies) {
      this.records.set(copy.key, copy, expiresAt);
      if (options.track) this.open.add(copy.key);
      this.index.add(copy.key, copy.creationTime);
      if (copy.parent === undefined) this.rootIndex.add(copy.key, copy.creationTime);
      const entry = timelineEntry(at, copy, undefined);
      this.timelines.set(copy.key, [entry], expiresAt);
      if (this.listeners.size > 0) this.emit({ type: 'status', key: copy.key, kind: copy.kind, taskName: copy.taskName, ...(copy.parent ? { parent: copy.parent } : {}), entry });
    }
  }

  async getRecord(key: string): Promise<SignatureRecord | null> {
    return this.read(key);
  }

  async getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]> {
    return keys.map((key) => this.read(key));
  }

  private read(key: string): SignatureRecord | null {
    const entry = this.records.entry(key);
    return entry ? copyRecord(this.trusted(entry, key)) : null;
  }

  async updateRecord(key: string, update: RecordUpdate): Promise<UpdateResult> {
    this.tick();
    return this.update(key, update);
  }

  /** The conditional update, without awaiting: atomic with whatever the caller does next. */
  private update(key: string, update: RecordUpdate): UpdateResult {
    const written = this.write(key, update);
    return 'reason' in written ? written : { ok: true, record: copyRecord(written) };
  }

  /** The conditional update; the stored version it wrote (the store's own: not to be handed out). */
  private write(key: string, update: RecordUpdate): SignatureRecord | UpdateFailure {
    const entry = this.records.entry(key);
    if (!entry) return { ok: false, reason: 'missing' };
    const record = this.trusted(entry, key);
    if (!matches(record, update.expect)) return { ok: false, reason: 'mismatch', record: copyRecord(record) };
    if (this.lockedAgainst(key, update.lockHolder)) return { ok: false, reason: 'locked', record: copyRecord(record) };
    const next = updated(record, key, update);
    entry.value = next;
    if (next.status !== record.status) this.noteStatus(next, record.status);
    if (update.ttlSec !== undefined) this.setExpiry(key, update.ttlSec);
    if (update.untrack) this.open.delete(key);
    if (update.track) this.open.add(key);
    return next;
  }

  async deleteRecords(keys: readonly string[], options: { lockHolder?: string } = {}) {
    const locked = keys.filter((key) => this.lockedAgainst(key, options.lockHolder));
    if (locked.length > 0) return { ok: false as const, locked };
    for (const key of keys) {
      if (this.records.has(key)) this.forget(key);
      this.records.delete(key);
      this.swarms.delete(key);
      this.locks.delete(key);
      this.open.delete(key);
      this.timelines.delete(key);
      this.logs.delete(key);
    }
    return { ok: true as const };
  }

  async expireRecords(keys: readonly string[], ttlSec: number): Promise<void> {
    for (const key of keys) this.setExpiry(key, ttlSec);
  }

  async listOpen(cursor: string | undefined, limit: number) {
    this.tick();
    const all = [...this.open].filter((key) => this.records.has(key));
    const start = cursor === undefined ? 0 : Number(cursor);
    const keys = all.slice(start, start + limit);
    return start + limit < all.length ? { keys, cursor: String(start + limit) } : { keys };
  }

  // --- swarms ----------------------------------------------------------------

  async swarmAdd(swarm: string, members: readonly string[], options: SwarmAddOptions): Promise<SwarmAddResult> {
    const state = this.swarmState(swarm, options.ttlSec);
    if (state.closed) return { ok: false, reason: 'closed', counts: state.counts() };
    const max = options.maxTaskAllowed;
    if (max !== undefined && state.members.length + members.length > max) {
      return { ok: false, reason: 'too_many', counts: state.counts() };
    }
    state.add(members, options.priorities);
    if (max !== undefined && state.members.length >= max) state.closed = true;
    return { ok: true, counts: state.counts() };
  }

  async swarmClaim(swarm: string, options: ClaimOptions): Promise<Claimed[]> {
    const state = this.swarms.get(swarm);
    return state ? this.claim(swarm, state, options) : [];
  }

  async swarmFinish(
    swarm: string,
    member: string,
    outcome: { ok: true; result: unknown } | { ok: false },
    claim: ClaimOptions,
    end?: RecordUpdate,
  ): Promise<FinishResult> {
    const state = this.swarms.get(swarm);
    const written = end ? this.write(member, end) : undefined;
    if (written && 'reason' in written) return { counted: false, counts: state ? state.counts() : emptyCounts(), claimed: [], ended: written };
    const ended: UpdateResult | undefined = written && { ok: true, record: copyRecord(written) };
    if (!state) return { counted: false, counts: emptyCounts(), claimed: [], ...(ended ? { ended } : {}) };
    const counted = state.finish(member, outcome.ok, () => {
      const result = outcome.ok ? outcome.result : undefined;
      // When its end just stored this result, the member's record and the swarm share that copy.
      const box = end?.set?.result;
      return written && box !== undefined && box.value === result ? written.result!.value : copyJson(result);
    });
    const claimed = this.claim(swarm, state, claim);
    return { counted, counts: state.counts(), claimed, ...(ended ? { ended } : {}) };
  }

  async swarmSetPriority(swarm: string, member: string, priority: Priority): Promise<boolean> {
    if (!this.swarms.get(swarm)?.setPriority(member, priority)) return false;
    const entry = this.records.entry(member);
    if (entry) {
      try {
        entry.value = updated(this.trusted(entry, member), member, { set: { priority } });
      } catch (error) {
        if (!(error instanceof CorruptRecordError)) throw error; // the queue moved; an unreadable record stays as it is
      }
    }
    return true;
  }

  async swarmClose(swarm: string): Promise<SwarmCounts> {
    const state = this.swarms.get(swarm);
    if (!state) return { ...emptyCounts(), closed: true };
    state.closed = true;
    return state.counts();
  }

  async swarmCounts(swarm: string): Promise<SwarmCounts> {
    const state = this.swarms.get(swarm);
    return state ? state.counts() : emptyCounts();
  }

  async swarmRunning(swarm: string): Promise<SlotHolder[]> {
    const state = this.swarms.get(swarm);
    return state ? [...state.running].map(([member, worker]) => ({ member, worker })) : [];
  }

  async swarmReassign(swarm: string, member: string, from: string, to: string): Promise<boolean> {
    const state = this.swarms.get(swarm);
    if (!state || state.running.get(member) !== from) return false;
    state.running.set(member, to);
    return true;
  }

  async swarmReset(swarm: string): Promise<void> {
    this.swarms.get(swarm)?.reset();
  }

  async swarmDrainQueue(swarm: string): Promise<string[]> {
    return this.swarms.get(swarm)?.drainQueue() ?? [];
  }

  async swarmMembers(swarm: string, page?: MemberPage): Promise<string[]> {
    if (page) checkMemberPage(page);
    const members = this.swarms.get(swarm)?.members ?? [];
    return page ? members.slice(page.offset, page.offset + page.limit) : [...members];
  }

  async swarmResults(swarm: string, page?: MemberPage): Promise<unknown[]> {
    if (page) checkMemberPage(page);
    const state = this.swarms.get(swarm);
    if (!state || page?.limit === 0) return [];
    return copyPlain(page ? state.successfulResults(page.offset, page.offset + page.limit) : state.successfulResults());
  }

  // --- graphs ----------------------------------------------------------------

  async graphSettle(graph: string, node: string, step: GraphSettleStep, claim: ClaimOptions): Promise<GraphSettleResult> {
    const state = this.swarms.get(graph);
    if (!state) return { counted: false, ready: [], skip: [], settled: 0, counts: emptyCounts(), claimed: [] };
    const progress = (state.graph ??= new GraphProgress());
    const ready: string[] = [];
    const skip: string[] = [];
    const counted = !progress.nodes.has(node);
    if (counted) {
      const outcome = step.outcome;
      const skipped = 'skipped' in outcome;
      progress.nodes.set(node, { outcome: skipped ? 'skipped' : outcome.ok ? 'done' : 'failed', taken: step.edges.some((e) => e.taken) });
      progress.skipPending.delete(node);
      if (!skipped) state.finish(node, outcome.ok, () => copyJson(outcome.ok ? outcome.result : undefined));
      for (const { edge, target, incoming, taken } of step.edges) {
        progress.edges.set(edge, taken ? 'taken' : 'skipped');
        const seen = progress.incoming.get(target) ?? { settled: 0, taken: 0 };
        seen.settled += 1;
        if (taken) seen.taken += 1;
        progress.incoming.set(target, seen);
        if (seen.settled !== incoming) continue;
        if (seen.taken > 0) ready.push(target);
        else (skip.push(target), progress.skipPending.add(target));
      }
      if (ready.length > 0) state.add(ready, undefined, false);
    }
    const claimed = this.claim(graph, state, claim);
    return { counted, ready, skip, settled: progress.nodes.size, counts: state.counts(), claimed };
  }

  async graphState(graph: string, only: { nodes?: readonly string[]; edges?: readonly number[] } = {}): Promise<GraphState> {
    const state = this.swarms.get(graph);
    const progress = state?.graph;
    if (!state || !progress) return { settled: 0, skipPending: [], nodes: {}, edges: {} };
    const nodes: GraphState['nodes'] = {};
    for (const key of only.nodes ?? progress.nodes.keys()) {
      const settled = progress.nodes.get(key);
      if (!settled) continue;
      const result = settled.outcome === 'done' ? state.resultOf(key) : undefined;
      nodes[key] = result ? { ...settled, result: copyPlain(result.value) } : { ...settled };
    }
    const edges: GraphState['edges'] = {};
    for (const edge of only.edges ?? progress.edges.keys()) {
      const settled = progress.edges.get(edge);
      if (settled) edges[edge] = settled;
    }
    return { settled: progress.nodes.size, skipPending: [...progress.skipPending], nodes, edges };
  }

  // --- leases ----------------------------------------------------------------

  async lock(key: string, holder: string, ttlMs: number): Promise<boolean> {
    this.tick();
    const current = this.locks.get(key);
    if (current !== undefined && current !== holder) return false;
    this.locks.set(key, holder, this.now() + ttlMs);
    return true;
  }

  async unlock(key: string, holder: string): Promise<void> {
    if (this.locks.get(key) === holder) this.locks.delete(key);
  }

  async heartbeat(worker: string, ttlMs: number): Promise<void> {
    this.tick();
    this.workers.set(worker, true, this.now() + ttlMs);
  }

  async liveWorkers(): Promise<Set<string>> {
    return new Set(this.workers.keys());
  }

  // --- audit -----------------------------------------------------------------

  async audit(entry: AuditEntry, ttlSec: number): Promise<void> {
    this.tick();
    const existing = this.audits.get(entry.key) ?? [];
    this.audits.set(entry.key, [...existing, copyJson(entry)], this.expiry(ttlSec));
  }

  async auditLog(key: string): Promise<AuditEntry[]> {
    return copyPlain(this.audits.get(key) ?? []);
  }

  // --- observability -----------------------------------------------------------

  async recordTtl(key: string): Promise<number | null> {
    const entry = this.records.entry(key);
    return entry ? Math.max(0, Math.ceil((entry.expiresAt - this.now()) / 1000)) : null;
  }

  async timeline(key: string): Promise<TimelineEntry[]> {
    return copyPlain(this.timelines.get(key) ?? []);
  }

  async appendLogs(key: string, entries: readonly LogEntry[]): Promise<void> {
    this.tick();
    const checked = entries.map((e) => copyJson(checkLogEntry(key, e)));
    const record = this.records.entry(key);
    if (!record || checked.length === 0) return;
    const kept = this.logs.get(key) ?? [];
    kept.push(...checked);
    if (kept.length > LOG_CAP) kept.splice(0, kept.length - LOG_CAP);
    this.logs.set(key, kept, record.expiresAt);
    if (this.listeners.size > 0) {
      const parent = (record.value as SignatureRecord).parent;
      for (const entry of checked) this.emit({ type: 'log', key, ...(parent ? { parent } : {}), entry: copyPlain(entry) });
    }
  }

  async readLogs(key: string, query?: LogQuery): Promise<LogEntry[]> {
    return copyPlain(filterLogs(this.logs.get(key) ?? [], query));
  }

  async listRecords(query: ListQuery): Promise<ListPage> {
    const { limit, scanLimit } = listLimits(query);
    const records: SignatureRecord[] = [];
    let last: ListPosition | undefined;
    let scanned = 0;
    let more = false;
    this.walk(query, (position, record) => {
      last = position;
      if (record && matchesListQuery(record, query)) records.push(copyRecord(record));
      if (records.length >= limit || ++scanned >= scanLimit) return !(more = true);
      return true;
    });
    return more && last ? { records, cursor: encodeCursor(last) } : { records };
  }

  async countRecords(query: ListQuery): Promise<StatusCounts> {
    const { scanLimit } = listLimits({ ...query, limit: undefined });
    const counts = emptyStatusCounts();
    let scanned = 0;
    let complete = true;
    this.walk({ ...query, cursor: undefined }, (_, record) => {
      if (record && matchesListQuery(record, query)) counts[record.status] += 1;
      if (++scanned >= scanLimit) return (complete = false);
      return true;
    });
    return { counts, complete };
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<FeedSubscription> {
    this.listeners.add(listener);
    return { close: async () => void this.listeners.delete(listener) };
  }

  /** Index entries newest first from the query's cursor, with their record (undefined: unreadable, or a stale entry). */
  private walk(query: ListQuery, visit: (position: ListPosition, record: SignatureRecord | undefined) => boolean): void {
    let after = decodeCursor(query.cursor);
    if (query.to !== undefined && (!after || after.at > query.to)) after = { at: query.to, key: '\uffff' };
    const index = query.roots ? this.rootIndex : this.index;
    index.walk(after, (position) => {
      if (query.from !== undefined && position.at < query.from) return false;
      const record = this.readable(position.key);
      // an entry left by a record deleted and created again under the same key
      return visit(position, record && record.creationTime === position.at ? record : undefined);
    });
  }

  private noteStatus(record: SignatureRecord, from: SignatureRecord['status']): void {
    const entry = timelineEntry(this.now(), record, from);
    const kept = this.timelines.entry(record.key);
    if (kept) {
      kept.value.push(entry);
      if (kept.value.length > TIMELINE_CAP) kept.value.shift();
    } else {
      const expiresAt = this.records.entry(record.key)?.expiresAt;
      if (expiresAt !== undefined) this.timelines.set(record.key, [entry], expiresAt);
    }
    if (this.listeners.size > 0) {
      this.emit({ type: 'status', key: record.key, kind: record.kind, taskName: record.taskName, ...(record.parent ? { parent: record.parent } : {}), entry: { ...entry } });
    }
  }

  /** A listener that throws must not break the step that published. */
  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // the listener's own problem
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // --- inspection, for tests and the dashboard --------------------------------

  /** Seconds left to live for a record (with its swarm state), or undefined if absent. */
  ttlOf(key: string): number | undefined {
    const entry = this.records.entry(key) ?? this.swarms.entry(key);
    return entry ? Math.ceil((entry.expiresAt - this.now()) / 1000) : undefined;
  }

  /** Every live record key, with its seconds left to live. */
  keysWithTtl(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of [...this.records.keys(), ...this.swarms.keys()]) {
      const ttl = this.ttlOf(key);
      if (ttl !== undefined) out.set(key, ttl);
    }
    return out;
  }

  /** Replaces a stored value with anything at all: for tests of corrupt records. */
  corrupt(key: string, value: unknown): void {
    const entry = this.records.entry(key);
    this.records.set(key, new Unchecked(value), entry?.expiresAt ?? this.expiry(3600));
  }

  // --- internals ---------------------------------------------------------------

  private claim(swarm: string, state: SwarmState, options: ClaimOptions): Claimed[] {
    const record = this.readable(swarm);
    if (!record || !options.whenStatus.includes(record.status)) return [];
    // Past the failure threshold nothing starts: the failure and the hand-over are one step.
    if (options.stopAfterFailures !== undefined && state.failed >= options.stopAfterFailures) return [];
    const claimed: Claimed[] = [];
    const limit = options.limit ?? Infinity;
    while (state.running.size < options.maxConcurrency && claimed.length < limit) {
      const member = state.takeQueued();
      if (member === undefined) break;
      state.running.set(member, options.worker);
      claimed.push(options.begin ? this.begin(member, options, `${options.begin.runIdPrefix}.${claimed.length}`) : this.claimedAsIs(member));
    }
    return claimed;
  }

  /** A claimed member begun for run `runId` if it is a task no run has touched (see `ClaimOptions.begin`). */
  private begin(member: string, options: ClaimOptions, runId: string): Claimed {
    try {
      // not `{ ...options.begin.set, status, ... }`: see `updated`
      const set: Record<string, unknown> = {};
      const extra: Readonly<Record<string, unknown>> = options.begin!.set;
      for (const field in extra) set[field] = extra[field];
      set.status = 'active';
      set.runId = runId;
      set.attempt = 1;
      set.worker = options.worker;
      const begun = this.update(member, { expect: { kind: 'task', status: ['pending'], runId: null, dispatchedAt: null }, set });
      if (begun.ok) return { key: member, record: begun.record, runId };
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
    }
    return this.claimedAsIs(member);
  }

  private claimedAsIs(member: string): Claimed {
    try {
      return { key: member, record: this.read(member) };
    } catch (error) {
      if (error instanceof CorruptRecordError) return { key: member, record: error };
      throw error;
    }
  }

  private swarmState(swarm: string, ttlSec: number): SwarmState {
    const existing = this.swarms.get(swarm);
    if (existing) return existing;
    const state = new SwarmState();
    this.swarms.set(swarm, state, this.records.entry(swarm)?.expiresAt ?? this.expiry(ttlSec));
    return state;
  }

  /**
   * The stored version under an entry. Versions the store wrote were validated as
   * they were written; a value put there by `corrupt()` is validated here, and kept
   * as a version of the store's own once it passes. A corrupt value is a
   * CorruptRecordError naming the key, on every read.
   */
  private trusted(entry: { value: SignatureRecord | Unchecked }, key: string): SignatureRecord {
    const value = entry.value;
    if (!(value instanceof Unchecked)) return value;
    const record = parseRecord(value.value, key);
    return (entry.value = copyJson(record));
  }

  /** The stored version, or undefined when there is none or it is corrupt. */
  private readable(key: string): SignatureRecord | undefined {
    const entry = this.records.entry(key);
    if (!entry) return undefined;
    try {
      return this.trusted(entry, key);
    } catch (error) {
      if (error instanceof CorruptRecordError) return undefined;
      throw error;
    }
  }

  private lockedAgainst(key: string, holder: string | undefined): boolean {
    const lock = this.locks.get(key);
    return lock !== undefined && lock !== holder;
  }

  private setExpiry(key: string, ttlSec: number): void {
    const expiresAt = this.expiry(ttlSec);
    this.records.expire(key, expiresAt);
    this.swarms.expire(key, expiresAt);
    this.timelines.expire(key, expiresAt);
    this.logs.expire(key, expiresAt);
  }

  private expiry(ttlSec: number): number {
    return this.now() + ttlSec * 1000;
  }

  /** Purges when due; starts the purge timer on first use (unref'd: it never keeps a process alive). */
  private tick(): void {
    if (!this.timer) {
      this.timer = setInterval(() => this.purgeExpired(), this.purgeEveryMs);
      this.timer.unref();
    }
    if (this.now() >= this.nextPurgeAt) this.purgeExpired();
  }
}

/**
 * The next version of a valid record: its fields with the update's written over
 * them. Only the written fields are validated and copied; the rest are shared
 * with the version before, which no one changes.
 *
 * Built field by field into a new object. Not `{ ...record }` and then the new
 * fields: on Node 20, adding a field to an object made by a spread costs
 * microseconds (each such object gets a map of its own), and an update usually
 * adds fields (a run's id, its result). Nor `delete`: an object that loses a field
 * becomes slow to read and to copy.
 */
function updated(record: SignatureRecord, key: string, update: RecordUpdate): SignatureRecord {
  const set: Readonly<Record<string, unknown>> = update.set ?? {};
  const unset: readonly string[] = update.unset ?? [];
  checkRecordUpdate(key, set, unset);
  const next: Record<string, unknown> = {};
  for (const field in record) {
    if (unset.length === 0 || !unset.includes(field)) next[field] = record[field as keyof SignatureRecord];
  }
  for (const field in set) {
    const value = set[field];
    if (value !== undefined && (unset.length === 0 || !unset.includes(field))) next[field] = copyJson(value);
  }
  return next as SignatureRecord;
}

/** A deep copy of a stored record, for a caller. */
function copyRecord(record: SignatureRecord): SignatureRecord {
  return copyPlain(record);
}

/**
 * A deep copy of stored data. What is stored is plain JSON, checked by `copyJson` on
 * the way in, so this is a spread per object with no checks: several times faster.
 */
function copyPlain<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = value.slice();
    for (let i = 0; i < out.length; i++) {
      const item: unknown = out[i];
      if (typeof item === 'object' && item !== null) out[i] = copyPlain(item);
    }
    return out as T;
  }
  const out = { ...value } as Record<string, unknown>;
  for (const key in out) {
    const item = out[key];
    if (typeof item === 'object' && item !== null) out[key] = copyPlain(item);
  }
  return out as T;
}

/**
 * A deep copy of plain JSON data, which is all a store is handed (user values come
 * encoded by the codec). Several times faster than structuredClone, and a value that
 * is not JSON is refused, as a store that serializes would not keep it either.
 */
function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(value);
  // any realm's Object.prototype: values made in another realm (a vm context, a test runner) are plain too
  if (proto !== null && Object.getPrototypeOf(proto) !== null) {
    throw new InvalidArgumentError(`the memory store keeps plain JSON data only, and was handed an instance of ${proto?.constructor?.name ?? 'a class'}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyJson((value as Record<string, unknown>)[key]);
  return out as T;
}

function timelineEntry(at: number, record: SignatureRecord, from: SignatureRecord['status'] | undefined): TimelineEntry {
  const entry: TimelineEntry = { at, status: record.status };
  if (from !== undefined) entry.from = from;
  if (record.worker !== undefined) entry.worker = record.worker;
  if (record.runId !== undefined) entry.runId = record.runId;
  if (record.attempt !== undefined) entry.attempt = record.attempt;
  return entry;
}

function emptyCounts(): SwarmCounts {
  return { total: 0, queued: 0, running: 0, done: 0, failed: 0, closed: false };
}
