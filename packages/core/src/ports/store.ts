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
import type { Kind, Status } from '../model/status';

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

/** A page of a container's members: `limit` members from position `offset` (0-based), in the order added. */
export interface MemberPage {
  offset: number;
  limit: number;
}

/**
 * A graph node's settlement, as the worker that finished it decided it: how it ended
 * and which of its outgoing edges were taken (their conditions are evaluated by that
 * worker; the store only counts).
 */
export interface GraphSettleStep {
  /** ran and succeeded (its result is kept, as a swarm member's), ran and failed, or skipped (never ran). */
  outcome: { ok: true; result: unknown } | { ok: false } | { skipped: true };
  /**
   * Its outgoing edges: `edge` (the edge's position in the graph's edge list), the member
   * it leads to, that member's number of incoming edges, and whether it was taken.
   */
  edges: readonly { edge: number; target: string; incoming: number; taken: boolean }[];
}

export interface GraphSettleResult {
  /** false when the node was settled before: nothing was recorded again (the claim is still made). */
  counted: boolean;
  /** nodes whose incoming edges are now all settled, at least one taken: queued in the same step. */
  ready: string[];
  /**
   * Nodes whose incoming edges are now all settled and none taken: listed in the graph's
   * state as pending skips (see `GraphState.skipPending`) until their own settlement.
   */
  skip: string[];
  /** nodes settled so far (ran or skipped). */
  settled: number;
  /** the counts of the nodes that ran or are queued to run, as a swarm's. */
  counts: SwarmCounts;
  /** queued nodes given free slots in the same step; the caller starts them. */
  claimed: Claimed[];
}

/** How a settled graph node ended, and whether any of its outgoing edges was taken. */
export interface GraphNodeState {
  outcome: 'done' | 'failed' | 'skipped';
  taken: boolean;
  /** a done node's result. */
  result?: unknown;
}

export interface GraphState {
  settled: number;
  /** nodes found to be skipped whose own settlement has not been recorded yet (a crash came between). */
  skipPending: string[];
  /** the nodes asked for (all settled nodes when none were named) that are settled. */
  nodes: Record<string, GraphNodeState>;
  /** the edges asked for (all settled edges when none were named) that are settled. */
  edges: Record<number, 'taken' | 'skipped'>;
}

/** An entry of the audit log that outlives what it describes. */
export interface AuditEntry {
  at: number;
  action: string;
  key: string;
  keys: string[];
  detail?: Record<string, unknown>;
}

// --- observability: timeline, logs, listing, change feed ------------------------------

/**
 * One status change of a signature, as its timeline keeps it: recorded by the store
 * itself in the step that changes the status (creation included), with the record's
 * worker, run id and attempt as that step left them. Nothing else writes a timeline.
 */
export interface TimelineEntry {
  /** when the step ran (ms epoch, the clock of the process that made it). */
  at: number;
  status: Status;
  /** the status before; absent on the entry of its creation. */
  from?: Status;
  worker?: string;
  runId?: string;
  attempt?: number;
}

/** Most timeline entries kept per signature; past it the oldest are dropped. */
export const TIMELINE_CAP = 50;

export const LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log line of a signature: written by its task body (`ctx.log`) or by the runtime. */
export interface LogEntry {
  at: number;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
  /** who wrote it: the task body, or the runtime (retries, failures, cleanup problems). */
  source: 'task' | 'runtime';
  runId?: string;
  attempt?: number;
  worker?: string;
}

/** Most log entries kept per signature (the oldest are dropped); a message longer than LOG_MESSAGE_MAX characters is cut. */
export const LOG_CAP = 1000;
export const LOG_MESSAGE_MAX = 4000;

export interface LogQuery {
  /** only these levels. Default: all. */
  levels?: readonly LogLevel[];
  /** only entries whose message or fields contain this text (case-insensitive). */
  text?: string;
  /** the newest this many of those that match. Default: all kept. */
  limit?: number;
}

/**
 * Which signatures to list, newest first. Every filter is optional; they all apply.
 * A listing walks an index by creation time, not the whole store: a call examines at
 * most `scanLimit` index entries, so it returns fewer than `limit` records (with a
 * cursor to go on) when few of those match.
 */
export interface ListQuery {
  kinds?: readonly Kind[];
  statuses?: readonly Status[];
  taskName?: string;
  /** only signatures that are not a member of a chain or swarm (workflows and lone tasks). */
  roots?: boolean;
  /** only signatures whose key, name or task name contains this text (case-insensitive). */
  text?: string;
  /** created at or after this (ms epoch). */
  from?: number;
  /** created at or before this (ms epoch). */
  to?: number;
  /** where the previous page ended (`ListPage.cursor`). */
  cursor?: string;
  /** most records to return. Default 50. */
  limit?: number;
  /** most index entries to examine in this call. Default 10,000. */
  scanLimit?: number;
}

export interface ListPage {
  records: SignatureRecord[];
  /** where to go on from; absent when the index has no more entries to examine. */
  cursor?: string;
}

export interface StatusCounts {
  counts: Record<Status, number>;
  /** false when `scanLimit` entries were examined before the index ended: the counts are of the newest ones. */
  complete: boolean;
}

/** What the change feed carries. */
export type StoreEvent =
  | { type: 'status'; key: string; kind: Kind; taskName: string; parent?: string; entry: TimelineEntry }
  | { type: 'log'; key: string; parent?: string; entry: LogEntry };

export interface FeedSubscription {
  close(): Promise<void>;
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
  /** Every member ever added, in the order added; with a page, only those (a large swarm is read in pages). */
  swarmMembers(swarm: string, page?: MemberPage): Promise<string[]>;
  /**
   * Results of the members that succeeded, in the order the members were added. With a
   * page: only those of the members listed at the page's positions (as `swarmMembers`
   * pages them), so a page holds at most `limit` results, fewer when some of those
   * members failed or have not ended; a large swarm's results are read a page at a time.
   */
  swarmResults(swarm: string, page?: MemberPage): Promise<unknown[]>;

  // --- graphs ---------------------------------------------------------------
  // A graph keeps its nodes in swarm state (`swarmAdd` queues its entry nodes; nodes that
  // become ready are queued by `graphSettle`, counted in `total` but not listed by
  // `swarmMembers`, so `swarmReset` queues the entries again), plus what these record.

  /**
   * Records a node's settlement once, in one atomic step whose cost is the node's
   * out-degree: its outcome (a node that ran is counted and frees its slot, as
   * `swarmFinish` does), each outgoing edge as taken or skipped, and for each target
   * whose incoming edges are now all settled: queued when one was taken, listed as a
   * pending skip otherwise. Then claims free slots like `swarmFinish`. A node settled
   * before changes nothing (a repeated settlement counts once).
   */
  graphSettle(graph: string, node: string, step: GraphSettleStep, claim: ClaimOptions): Promise<GraphSettleResult>;
  /** A graph's progress: `nodes` and `edges` limit what is read (O(asked)); without them, all of it. */
  graphState(graph: string, only?: { nodes?: readonly string[]; edges?: readonly number[] }): Promise<GraphState>;

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

  // --- observability ------------------------------------------------------------
  // A store records a signature's timeline and lists it in its creation index by itself,
  // in the steps that create it and change its status (createRecords, updateRecord,
  // swarmFinish's end, swarmClaim's begin); those steps also publish to the change feed
  // while anyone subscribes. What it keeps for a signature shares the record's time to
  // live and goes with `deleteRecords`.

  /** Seconds the record has left to live (null: no record; a record kept without a TTL is never handed out). */
  recordTtl(key: string): Promise<number | null>;
  /** The signature's status changes, oldest first (at most TIMELINE_CAP; empty when it is gone). */
  timeline(key: string): Promise<TimelineEntry[]>;
  /** Appends log entries to a signature's log (at most LOG_CAP kept); dropped when the signature is gone. */
  appendLogs(key: string, entries: readonly LogEntry[]): Promise<void>;
  /** The signature's log entries, oldest first, filtered. */
  readLogs(key: string, query?: LogQuery): Promise<LogEntry[]>;
  /** A page of signatures, newest first (see ListQuery). */
  listRecords(query: ListQuery): Promise<ListPage>;
  /** How many signatures matching the query's filters are in each status (cursor and limit ignored). */
  countRecords(query: ListQuery): Promise<StatusCounts>;
  /**
   * Calls `listener` with every status change and log entry from now on, from any
   * process sharing the store (best effort: a listener that needs a consistent picture
   * reads the records after subscribing). Publishing costs nothing while nobody listens.
   */
  subscribe(listener: (event: StoreEvent) => void): Promise<FeedSubscription>;

  close(): Promise<void>;
}
