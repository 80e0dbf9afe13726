/**
 * The Store port: where signatures live, and the few atomic steps orchestration
 * needs. Any step two workers can race on is atomic in an implementation (a Lua
 * script in Redis, a transaction in SQL, a synchronous step in memory). Each step
 * that concerns one swarm member costs O(1), whatever the size of the swarm.
 *
 * No connection, client or transaction type crosses this interface.
 * `@mageflow/testing` has the conformance suite every implementation must pass.
 */
import type { CorruptRecordError } from '../errors';
import type { Priority } from '../model/priority';
import type { SignatureRecord } from '../model/record';
import type { Status } from '../model/status';

/** Scalar fields a conditional update can compare; `null` means "not stored". */
export const EXPECTABLE_FIELDS = ['kind', 'runId', 'attempt', 'dispatchedAt', 'worker', 'parent', 'cleanupOf'] as const;
export type ExpectableField = (typeof EXPECTABLE_FIELDS)[number];

/** Conditions a conditional update checks against the stored record. */
export type Expectation = {
  /** the stored status is one of these. */
  status?: readonly Status[];
} & { [F in ExpectableField]?: string | number | null };

export interface RecordUpdate {
  expect?: Expectation;
  /** fields to write; `undefined` values are ignored. */
  set?: Partial<SignatureRecord>;
  /** fields to remove. */
  unset?: readonly (keyof SignatureRecord)[];
  /** new time to live for the record and everything the store keeps for it. */
  ttlSec?: number;
  /** the caller holds the signature's lock under this name (see `lock`). */
  lockHolder?: string;
  /** drop it from the open-records index (it needs no recovery any more). */
  untrack?: boolean;
  /** list it in the open-records index again. */
  track?: boolean;
}

export type UpdateResult =
  | { ok: true; record: SignatureRecord }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'mismatch' | 'locked'; record: SignatureRecord };

export interface CreateOptions {
  ttlSec: number;
  /** list these records as open, for recovery sweeps (swarm members are found through their swarm). */
  track: boolean;
}

export interface SwarmCounts {
  /** members ever added. */
  total: number;
  /** added and not yet given a slot. */
  queued: number;
  /** holding a slot (dispatched, running, or paused mid-run). */
  running: number;
  done: number;
  failed: number;
  closed: boolean;
}

export interface SwarmAddOptions {
  maxTaskAllowed?: number;
  ttlSec: number;
  /** by position in `members`: each one's priority (undefined: medium). */
  priorities?: readonly (Priority | undefined)[];
}

export type SwarmAddResult =
  | { ok: true; counts: SwarmCounts }
  | { ok: false; reason: 'closed' | 'too_many'; counts: SwarmCounts };

export interface ClaimOptions {
  maxConcurrency: number;
  /** slots are given only while the swarm record's status is one of these. */
  whenStatus: readonly Status[];
  /** recorded as the holder of each slot, so a dead worker's slots can be taken over. */
  worker: string;
  /** claim at most this many in this step (the worker's free capacity). Default: no limit. */
  limit?: number;
  /** claim nothing once this many members have failed (the swarm's stopAfterNFailures). */
  stopAfterFailures?: number;
  ttlSec: number;
  /**
   * Records each claimed member that is a task no run has touched yet (`pending`, no
   * `runId`, no `dispatchedAt`) as begun by a run the caller is about to start, in the
   * same step: `status: 'active'`, `runId: `${runIdPrefix}.${n}`` (n: the member's
   * position among those claimed in this step, from 0), `attempt: 1`, `worker`, and `set`.
   * Saves the run a round trip to begin; the caller must start those runs.
   */
  begin?: { runIdPrefix: string; set: Partial<SignatureRecord> };
}

/** A member given a slot, with its record as the step left it (null: gone; an error: unreadable). */
export interface Claimed {
  key: string;
  record: SignatureRecord | null | CorruptRecordError;
  /** the run it was begun for (see `ClaimOptions.begin`). */
  runId?: string;
}

export interface FinishResult {
  /** false when this member was already counted (a repeated completion counts once). */
  counted: boolean;
  counts: SwarmCounts;
  /** members given the freed slots in the same step; the caller dispatches them. */
  claimed: Claimed[];
  /** with an `end` update: its result. When it did not apply, nothing else was done. */
  ended?: UpdateResult;
}

export interface SlotHolder {
  member: string;
  worker: string;
}

/** An entry of the audit log that outlives what it describes. */
export interface AuditEntry {
  at: number;
  action: string;
  key: string;
  keys: string[];
  detail?: Record<string, unknown>;
}

export interface Store {
  /**
   * What this store's data is kept under (a Redis key prefix, a schema name), when
   * it has such a name. Mageflow hands it to the engine, so apps sharing one engine
   * server keep their tasks apart by default.
   */
  readonly namespace?: string;

  // --- records -------------------------------------------------------------
  /** Creates all or none; fails if any key exists. */
  createRecords(records: readonly SignatureRecord[], options: CreateOptions): Promise<void>;
  getRecord(key: string): Promise<SignatureRecord | null>;
  getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]>;
  /** Conditional update: applied only if every expectation holds and no other holder has the lock. */
  updateRecord(key: string, update: RecordUpdate): Promise<UpdateResult>;
  /** Deletes records and everything kept for them, all or none; refuses while any is locked by another holder. */
  deleteRecords(keys: readonly string[], options?: { lockHolder?: string }): Promise<{ ok: true } | { ok: false; locked: string[] }>;
  /** Sets the time to live of records and everything kept for them. */
  expireRecords(keys: readonly string[], ttlSec: number): Promise<void>;
  /** Keys of tracked records (not yet settled), in pages. */
  listOpen(cursor: string | undefined, limit: number): Promise<{ keys: string[]; cursor?: string }>;

  // --- swarms ---------------------------------------------------------------
  /**
   * Appends members to the swarm's queue, all or none; refuses when closed or past
   * maxTaskAllowed. Reaching maxTaskAllowed closes it. `priorities[i]` is `members[i]`'s
   * (absent or undefined: medium); the store keeps it for the member's life in the swarm,
   * `swarmReset` included.
   */
  swarmAdd(swarm: string, members: readonly string[], options: SwarmAddOptions): Promise<SwarmAddResult>;
  /**
   * Moves queued members into free slots, up to maxConcurrency running: the highest
   * priority first (high, medium, low), and within a priority the order added.
   */
  swarmClaim(swarm: string, options: ClaimOptions): Promise<Claimed[]>;
  /**
   * Records a member's end once: frees its slot (or, for a member that ends while
   * queued, e.g. canceled, takes it out of the queue so it never takes a slot),
   * counts it, keeps its result, then claims freed slots.
   *
   * `end`: the member's own update (its end), made first in the same atomic step, as
   * `updateRecord(member, end)` would; only if it applies does the rest happen. So a
   * member's end and its count cannot be parted by a crash, in one round trip.
   */
  swarmFinish(
    swarm: string,
    member: string,
    outcome: { ok: true; result: unknown } | { ok: false },
    claim: ClaimOptions,
    end?: RecordUpdate,
  ): Promise<FinishResult>;
  /**
   * Moves a queued member to another priority, in one step with writing `priority` on
   * its record (if the record exists). It keeps its place by order added among the
   * members of its new priority. False, and nothing written, when the member is not
   * queued in this swarm (it started, ended, or was never added).
   */
  swarmSetPriority(swarm: string, member: string, priority: Priority): Promise<boolean>;
  swarmClose(swarm: string): Promise<SwarmCounts>;
  swarmCounts(swarm: string): Promise<SwarmCounts>;
  /** Members holding a slot, with the worker that holds it. */
  swarmRunning(swarm: string): Promise<SlotHolder[]>;
  /** Gives a member's slot to another worker if `from` still holds it. */
  swarmReassign(swarm: string, member: string, from: string, to: string): Promise<boolean>;
  /** Puts every member back in the queue (at its priority, in the order added), and clears slots, counts and results (a rerun); `closed` is kept. */
  swarmReset(swarm: string): Promise<void>;
  /** Removes and returns every queued member, in the order claims would have taken them. */
  swarmDrainQueue(swarm: string): Promise<string[]>;
  /** Every member ever added, in the order added. */
  swarmMembers(swarm: string): Promise<string[]>;
  /** Results of the members that succeeded, in the order the members were added. */
  swarmResults(swarm: string): Promise<unknown[]>;

  // --- leases ---------------------------------------------------------------
  /** Takes or renews the lock of a signature; false if another holder has it. */
  lock(key: string, holder: string, ttlMs: number): Promise<boolean>;
  unlock(key: string, holder: string): Promise<void>;
  /** Marks a worker alive for ttlMs. */
  heartbeat(worker: string, ttlMs: number): Promise<void>;
  /** Workers whose heartbeat has not run out. */
  liveWorkers(): Promise<Set<string>>;

  // --- audit ----------------------------------------------------------------
  audit(entry: AuditEntry, ttlSec: number): Promise<void>;
  auditLog(key: string): Promise<AuditEntry[]>;

  close(): Promise<void>;
}
