/**
 * The embedded Store: everything in this process's memory. Each method does its
 * reads and writes without awaiting in between, so every step is atomic with
 * respect to other callers in the process. Values are deep-copied in and out, so
 * no caller can change stored state by holding on to an object.
 */
import { parseRecord, type SignatureRecord } from '../model/record';
import type {
  AuditEntry,
  ClaimOptions,
  CreateOptions,
  FinishResult,
  RecordUpdate,
  SlotHolder,
  Store,
  SwarmAddResult,
  SwarmCounts,
  UpdateResult,
} from '../ports/store';
import { matches } from '../ports/expectation';
import { InvalidArgumentError } from '../errors';

interface SwarmState {
  queue: string[];
  head: number;
  members: string[];
  running: Map<string, string>;
  finished: Set<string>;
  results: Map<string, unknown>;
  done: number;
  failed: number;
  closed: boolean;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** clock in ms, for tests that move time. */
  now?: () => number;
}

export class MemoryStore implements Store {
  private readonly records = new Map<string, Entry<unknown>>();
  private readonly swarms = new Map<string, Entry<SwarmState>>();
  private readonly locks = new Map<string, Entry<string>>();
  private readonly workers = new Map<string, number>();
  private readonly open = new Set<string>();
  private readonly audits = new Map<string, Entry<AuditEntry[]>>();
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  // --- records ---------------------------------------------------------------

  async createRecords(records: readonly SignatureRecord[], options: CreateOptions): Promise<void> {
    for (const record of records) {
      if (this.live(this.records, record.key)) throw new InvalidArgumentError(`a signature "${record.key}" already exists`);
    }
    const expiresAt = this.expiry(options.ttlSec);
    for (const record of records) {
      this.records.set(record.key, { value: structuredClone(record), expiresAt });
      if (options.track) this.open.add(record.key);
    }
  }

  async getRecord(key: string): Promise<SignatureRecord | null> {
    const entry = this.live(this.records, key);
    return entry ? parseRecord(structuredClone(entry.value), key) : null;
  }

  async getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]> {
    return Promise.all(keys.map((key) => this.getRecord(key)));
  }

  async updateRecord(key: string, update: RecordUpdate): Promise<UpdateResult> {
    const entry = this.live(this.records, key);
    if (!entry) return { ok: false, reason: 'missing' };
    const record = parseRecord(structuredClone(entry.value), key);
    if (!matches(record, update.expect)) return { ok: false, reason: 'mismatch', record };
    if (this.lockedAgainst(key, update.lockHolder)) return { ok: false, reason: 'locked', record };
    const next: Record<string, unknown> = { ...record };
    for (const [field, value] of Object.entries(update.set ?? {})) if (value !== undefined) next[field] = structuredClone(value);
    for (const field of update.unset ?? []) delete next[field];
    entry.value = next;
    if (update.ttlSec !== undefined) this.setExpiry(key, update.ttlSec);
    if (update.untrack) this.open.delete(key);
    if (update.track) this.open.add(key);
    return { ok: true, record: structuredClone(next) as SignatureRecord };
  }

  async deleteRecords(keys: readonly string[], options: { lockHolder?: string } = {}) {
    const locked = keys.filter((key) => this.lockedAgainst(key, options.lockHolder));
    if (locked.length > 0) return { ok: false as const, locked };
    for (const key of keys) {
      this.records.delete(key);
      this.swarms.delete(key);
      this.locks.delete(key);
      this.open.delete(key);
    }
    return { ok: true as const };
  }

  async expireRecords(keys: readonly string[], ttlSec: number): Promise<void> {
    for (const key of keys) this.setExpiry(key, ttlSec);
  }

  async listOpen(cursor: string | undefined, limit: number) {
    const all = [...this.open].filter((key) => this.live(this.records, key) ?? (this.open.delete(key), false));
    const start = cursor === undefined ? 0 : Number(cursor);
    const keys = all.slice(start, start + limit);
    return start + limit < all.length ? { keys, cursor: String(start + limit) } : { keys };
  }

  // --- swarms ----------------------------------------------------------------

  async swarmAdd(swarm: string, members: readonly string[], options: { maxTaskAllowed?: number; ttlSec: number }): Promise<SwarmAddResult> {
    const state = this.swarmState(swarm, options.ttlSec);
    if (state.closed) return { ok: false, reason: 'closed', counts: counts(state) };
    const max = options.maxTaskAllowed;
    if (max !== undefined && state.members.length + members.length > max) {
      return { ok: false, reason: 'too_many', counts: counts(state) };
    }
    state.queue.push(...members);
    state.members.push(...members);
    if (max !== undefined && state.members.length >= max) state.closed = true;
    return { ok: true, counts: counts(state) };
  }

  async swarmClaim(swarm: string, options: ClaimOptions): Promise<string[]> {
    const state = this.live(this.swarms, swarm)?.value;
    return state ? this.claim(swarm, state, options) : [];
  }

  async swarmFinish(
    swarm: string,
    member: string,
    outcome: { ok: true; result: unknown } | { ok: false },
    claim: ClaimOptions,
  ): Promise<FinishResult> {
    const state = this.live(this.swarms, swarm)?.value;
    if (!state) return { counted: false, counts: emptyCounts(), claimed: [] };
    let counted = false;
    if (!state.finished.has(member)) {
      counted = true;
      state.finished.add(member);
      state.running.delete(member);
      if (outcome.ok) {
        state.done += 1;
        state.results.set(member, structuredClone(outcome.result));
      } else {
        state.failed += 1;
      }
    }
    const claimed = this.claim(swarm, state, claim);
    return { counted, counts: counts(state), claimed };
  }

  async swarmClose(swarm: string): Promise<SwarmCounts> {
    const state = this.live(this.swarms, swarm)?.value;
    if (!state) return { ...emptyCounts(), closed: true };
    state.closed = true;
    return counts(state);
  }

  async swarmCounts(swarm: string): Promise<SwarmCounts> {
    const state = this.live(this.swarms, swarm)?.value;
    return state ? counts(state) : emptyCounts();
  }

  async swarmRunning(swarm: string): Promise<SlotHolder[]> {
    const state = this.live(this.swarms, swarm)?.value;
    return state ? [...state.running].map(([member, worker]) => ({ member, worker })) : [];
  }

  async swarmReassign(swarm: string, member: string, from: string, to: string): Promise<boolean> {
    const state = this.live(this.swarms, swarm)?.value;
    if (!state || state.running.get(member) !== from) return false;
    state.running.set(member, to);
    return true;
  }

  async swarmDrainQueue(swarm: string): Promise<string[]> {
    const state = this.live(this.swarms, swarm)?.value;
    if (!state) return [];
    const drained = state.queue.slice(state.head);
    state.queue = [];
    state.head = 0;
    return drained;
  }

  async swarmMembers(swarm: string): Promise<string[]> {
    return [...(this.live(this.swarms, swarm)?.value.members ?? [])];
  }

  async swarmResults(swarm: string): Promise<unknown[]> {
    const state = this.live(this.swarms, swarm)?.value;
    if (!state) return [];
    return state.members.filter((m) => state.results.has(m)).map((m) => structuredClone(state.results.get(m)));
  }

  // --- leases ----------------------------------------------------------------

  async lock(key: string, holder: string, ttlMs: number): Promise<boolean> {
    const current = this.live(this.locks, key);
    if (current && current.value !== holder) return false;
    this.locks.set(key, { value: holder, expiresAt: this.now() + ttlMs });
    return true;
  }

  async unlock(key: string, holder: string): Promise<void> {
    if (this.live(this.locks, key)?.value === holder) this.locks.delete(key);
  }

  async heartbeat(worker: string, ttlMs: number): Promise<void> {
    this.workers.set(worker, this.now() + ttlMs);
  }

  async liveWorkers(): Promise<Set<string>> {
    const now = this.now();
    return new Set([...this.workers].filter(([, until]) => until > now).map(([worker]) => worker));
  }

  // --- audit -----------------------------------------------------------------

  async audit(entry: AuditEntry, ttlSec: number): Promise<void> {
    const existing = this.live(this.audits, entry.key)?.value ?? [];
    this.audits.set(entry.key, { value: [...existing, structuredClone(entry)], expiresAt: this.expiry(ttlSec) });
  }

  async auditLog(key: string): Promise<AuditEntry[]> {
    return structuredClone(this.live(this.audits, key)?.value ?? []);
  }

  async close(): Promise<void> {}

  // --- inspection, for tests and the dashboard --------------------------------

  /** Seconds left to live for a record (with its swarm state), or undefined if absent. */
  ttlOf(key: string): number | undefined {
    const entry = this.live(this.records, key) ?? this.live(this.swarms, key);
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
    const entry = this.records.get(key);
    this.records.set(key, { value, expiresAt: entry?.expiresAt ?? this.expiry(3600) });
  }

  // --- internals ---------------------------------------------------------------

  private claim(swarm: string, state: SwarmState, options: ClaimOptions): string[] {
    const record = this.live(this.records, swarm)?.value as SignatureRecord | undefined;
    if (!record || !options.whenStatus.includes(record.status)) return [];
    const claimed: string[] = [];
    const limit = options.limit ?? Infinity;
    while (state.running.size < options.maxConcurrency && state.head < state.queue.length && claimed.length < limit) {
      const member = state.queue[state.head++]!;
      state.running.set(member, options.worker);
      claimed.push(member);
    }
    if (state.head > 1024 && state.head * 2 > state.queue.length) {
      state.queue = state.queue.slice(state.head);
      state.head = 0;
    }
    return claimed;
  }

  private swarmState(swarm: string, ttlSec: number): SwarmState {
    const existing = this.live(this.swarms, swarm);
    if (existing) return existing.value;
    const state: SwarmState = {
      queue: [], head: 0, members: [], running: new Map(), finished: new Set(), results: new Map(), done: 0, failed: 0, closed: false,
    };
    const recordEntry = this.live(this.records, swarm);
    this.swarms.set(swarm, { value: state, expiresAt: recordEntry?.expiresAt ?? this.expiry(ttlSec) });
    return state;
  }

  private lockedAgainst(key: string, holder: string | undefined): boolean {
    const lock = this.live(this.locks, key);
    return lock !== undefined && lock.value !== holder;
  }

  private setExpiry(key: string, ttlSec: number): void {
    const expiresAt = this.expiry(ttlSec);
    for (const map of [this.records, this.swarms] as Map<string, Entry<unknown>>[]) {
      const entry = this.live(map, key);
      if (entry) entry.expiresAt = expiresAt;
    }
  }

  private expiry(ttlSec: number): number {
    return this.now() + ttlSec * 1000;
  }

  private live<T>(map: Map<string, Entry<T>>, key: string): Entry<T> | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }
}

function counts(state: SwarmState): SwarmCounts {
  return {
    total: state.members.length,
    queued: state.queue.length - state.head,
    running: state.running.size,
    done: state.done,
    failed: state.failed,
    closed: state.closed,
  };
}

function emptyCounts(): SwarmCounts {
  return { total: 0, queued: 0, running: 0, done: 0, failed: 0, closed: false };
}
