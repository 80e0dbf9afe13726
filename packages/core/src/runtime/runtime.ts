/**
 * The runtime: what every orchestration step shares. It reads records, applies the
 * state machine's decisions with conditional writes (retrying when another worker
 * changed the record first), and tells local waiters when a signature ends.
 */
import { ttlFor, type ResolvedConfig } from '../config';
import { CorruptRecordError, SignatureLockedError, SignatureNotFoundError } from '../errors';
import { decide, type Decision, type Operation } from '../model/lifecycle';
import type { SignatureRecord } from '../model/record';
import { isFinished, type Kind } from '../model/status';
import type { Engine } from '../ports/engine';
import type { Expectation, RecordUpdate, Store, UpdateResult } from '../ports/store';
import type { TaskRegistry } from './registry';

/** Engine metadata that carries the signature key with a run. */
export const SIGNATURE_KEY = 'mageflow_key';

export interface Applied {
  before: SignatureRecord;
  record: SignatureRecord;
  decision: Decision;
  /** false when the decision left the record as it was (nothing written). */
  changed: boolean;
}

export interface ApplyOptions {
  runId?: string;
  attempt?: number;
  /** extra fields to write with the status change, given the decision. */
  set?: (before: SignatureRecord, decision: Decision) => Partial<SignatureRecord>;
  unset?: (keyof SignatureRecord)[];
  /** extra conditions beyond "the status has not changed since it was read". */
  expect?: Expectation;
  /** user calls fail at once on a locked signature; runtime steps wait for the lock. */
  caller: 'user' | 'runtime';
  track?: boolean;
  /** a recent read of the record: saves the first read (the write is still conditional on it). */
  known?: SignatureRecord;
  /**
   * The state the record is most likely in: the first write is decided on it and
   * made conditional on every field of it, saving the read; on a mismatch the store
   * hands back the real record, which is decided on as usual. It must name every
   * field the state machine reads for `op` (kind, status, and runId, attempt,
   * dispatchedAt as they matter).
   */
  guess?: Guess;
  /**
   * How the conditional write is made (default `store.updateRecord`): a caller may fuse
   * it with a step of its own (a swarm member's end with its count), as long as the
   * write applies exactly as `updateRecord` would.
   */
  write?: (key: string, update: RecordUpdate) => Promise<UpdateResult>;
  /** work that must be done before the write, given the decision (it may run again if the write loses a race). */
  beforeWrite?: (before: SignatureRecord, decision: Decision) => Promise<void>;
  /** time to live to set with the change, given the record (default: the done TTL when the signature ends). */
  ttlSec?: (before: SignatureRecord) => number | undefined;
}

export type Guess = Pick<SignatureRecord, 'kind' | 'status'> & { [F in 'runId' | 'attempt' | 'dispatchedAt']?: SignatureRecord[F] | null };

export class Runtime {
  /** run() waiters by key: most signatures end with nobody waiting here, so this is a map lookup. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly containers = new Map<string, SignatureRecord>();

  constructor(
    readonly store: Store,
    readonly engine: Engine,
    readonly config: ResolvedConfig,
    readonly registry: TaskRegistry,
    readonly workerId: string,
  ) {
  }

  get log() {
    return this.config.logger;
  }

  ttl(kind: Kind, phase: 'active' | 'done'): number {
    return ttlFor(this.config, kind, phase);
  }

  async load(key: string): Promise<SignatureRecord> {
    const record = await this.store.getRecord(key);
    if (!record) throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
    return record;
  }

  /**
   * Reads the record, asks the state machine what `op` does to it, and writes the
   * result conditionally on nothing having changed since the read. A lost race
   * re-reads and decides again; the machine's errors reach the caller.
   */
  async apply(key: string, op: Operation, options: ApplyOptions): Promise<Applied> {
    const lockDeadline = Date.now() + this.config.lockWaitMs;
    let known = options.known;
    let guess = known ? undefined : options.guess;
    for (let round = 0; ; round++) {
      const before = known ?? (guess ? guessed(key, guess) : await this.load(key));
      const expectGuess = guess ? guessExpectation(guess) : undefined;
      known = undefined;
      guess = undefined;
      const decision = decide(before, op, { runId: options.runId, attempt: options.attempt });
      const set = options.set?.(before, decision) ?? {};
      const statusChanged = decision.status !== before.status || decision.lastStatus !== before.lastStatus;
      if (!statusChanged && Object.keys(set).length === 0) return { before, record: before, decision, changed: false };

      await options.beforeWrite?.(before, decision);
      const ends = isFinished(decision.status) && !isFinished(before.status);
      const write = options.write ?? ((k: string, u: RecordUpdate) => this.store.updateRecord(k, u));
      // Built field by field: extending a spread copy is slow in V8, and this runs for every step.
      const fields: Partial<SignatureRecord> = Object.assign({}, set);
      fields.status = decision.status;
      if (decision.lastStatus) fields.lastStatus = decision.lastStatus;
      if (ends) fields.endedAt = Date.now(); // for the status tree's timings
      const result = await write(key, {
        expect: Object.assign({ status: [before.status] }, expectGuess, options.expect),
        set: fields,
        unset: options.unset,
        ttlSec: options.ttlSec?.(before) ?? (ends ? this.ttl(before.kind, 'done') : undefined),
        track: options.track,
      });
      if (result.ok) return { before, record: result.record, decision, changed: true };
      if (result.reason === 'mismatch') known = result.record;
      if (result.reason === 'missing') throw new SignatureNotFoundError(`no signature is stored under "${key}"`, { details: { key } });
      if (result.reason === 'locked') {
        if (options.caller === 'user' || Date.now() > lockDeadline) {
          throw new SignatureLockedError(`"${key}" is locked; ${op} refused`, { details: { key, op } });
        }
        await sleep(25);
      } else if (round > 50) {
        await sleep(Math.min(200, round * 2)); // heavy contention: back off, then decide again
      }
    }
  }

  /**
   * Reads records; a corrupt one comes back as its error instead of failing the
   * whole read, so one bad record cannot stop work on the others.
   */
  async readEach(keys: readonly string[]): Promise<(SignatureRecord | null | CorruptRecordError)[]> {
    try {
      return await this.store.getRecords(keys);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      return Promise.all(
        keys.map((key) =>
          this.store.getRecord(key).catch((e: unknown) => {
            if (e instanceof CorruptRecordError) return e;
            throw e;
          }),
        ),
      );
    }
  }

  private readonly corruptSeen = new Set<string>();

  /** Logs a corrupt record once per process, however often sweeps meet it. */
  reportCorrupt(key: string, error: CorruptRecordError): void {
    if (this.corruptSeen.has(key)) return;
    if (this.corruptSeen.size > 10_000) this.corruptSeen.clear();
    this.corruptSeen.add(key);
    this.log.error('a stored record is corrupt and is skipped; mf.delete(key, { force: true }) removes it', { key, error: error.message });
  }

  /**
   * A container record for routing a member's end. A running chain's or swarm's
   * members list, config, kwargs and message never change, so they are cached:
   * members then cost no read of their container's record.
   */
  async containerView(key: string): Promise<SignatureRecord | null> {
    const cached = this.containers.get(key);
    if (cached) return cached;
    const record = await this.store.getRecord(key);
    if (record && record.kind !== 'task' && record.status !== 'pending' && record.message) {
      if (this.containers.size >= 100) this.containers.delete(this.containers.keys().next().value!);
      this.containers.set(key, record);
    }
    return record;
  }

  /** `containerView`'s cached record, without a wait: a member's end checks here first. */
  cachedContainer(key: string): SignatureRecord | undefined {
    return this.containers.get(key);
  }

  /**
   * Records begun by the store in the step that gave them a slot, by run id, until
   * their run is delivered here. Bounded: a run never delivered (cancelled while
   * queued) costs an entry until it is pushed out, and a run that finds no entry
   * begins the usual way (one more round trip, same outcome).
   */
  private readonly handedOver = new Map<string, SignatureRecord>();

  handOver(record: SignatureRecord): void {
    if (this.handedOver.size >= 10_000) this.handedOver.delete(this.handedOver.keys().next().value!);
    this.handedOver.set(record.runId!, record);
  }

  /** The record begun for the first attempt of this run, if it was handed over. */
  takeOver(runId: string, key: string): SignatureRecord | undefined {
    const record = this.handedOver.get(runId);
    if (record === undefined) return undefined;
    this.handedOver.delete(runId);
    return record.key === key ? record : undefined;
  }

  /** Runs whose handler is executing in this process. */
  private readonly running = new Set<string>();

  /** Wraps a handler's execution, so recovery can tell a live run here from a lost one. */
  async executing<T>(runId: string, body: () => Promise<T>): Promise<T> {
    this.running.add(runId);
    try {
      return await body();
    } finally {
      this.running.delete(runId);
    }
  }

  /** Whether a run is executing here or was handed to the engine here and not yet delivered. */
  holdsRun(runId: string): boolean {
    return this.running.has(runId) || this.handedOver.has(runId);
  }

  private readonly templates = new Map<string, SignatureRecord>();

  /** A swarm's per-member callback template: it never changes, so it is read once per process. */
  async memberTemplate(key: string): Promise<SignatureRecord | null> {
    const cached = this.templates.get(key);
    if (cached) return cached;
    const record = await this.store.getRecord(key);
    if (record) {
      if (this.templates.size >= 1000) this.templates.delete(this.templates.keys().next().value!);
      this.templates.set(key, record);
    }
    return record;
  }

  forget(key: string): void {
    this.containers.delete(key);
  }

  /**
   * Keys whose orchestration step failed midway in this (live) worker, e.g. while
   * the store was unreachable: the write may or may not have happened. The next
   * sweep treats their runs and slots as orphaned, as if this worker had died.
   */
  readonly suspects = new Set<string>();

  suspect(...keys: (string | undefined)[]): void {
    for (const key of keys) if (key) this.suspects.add(key);
  }

  /** Runs an orchestration step; if it fails midway, its keys are left to the next sweep. */
  async guard<T>(keys: (string | undefined)[], step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof SignatureNotFoundError)) this.suspect(...keys);
      throw error;
    }
  }

  /** Tells local waiters (run()) that a signature ended or was deleted. */
  announce(key: string): void {
    const listeners = this.waiters.get(key);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  onEnd(key: string, listener: () => void): () => void {
    const listeners = this.waiters.get(key) ?? this.waiters.set(key, new Set()).get(key)!;
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.waiters.get(key) === listeners) this.waiters.delete(key);
    };
  }
}

/** A stand-in record for deciding on a guess: only the guessed fields matter. */
function guessed(key: string, guess: Guess): SignatureRecord {
  const record: SignatureRecord = { key, kind: guess.kind, taskName: '', kwargs: {}, successCallbacks: [], errorCallbacks: [], status: guess.status, creationTime: 0 };
  for (const field of ['runId', 'attempt', 'dispatchedAt'] as const) {
    const value = guess[field];
    if (value !== undefined && value !== null) (record as Record<string, unknown>)[field] = value;
  }
  return record;
}

function guessExpectation(guess: Guess): Expectation {
  const expect: Expectation = { kind: guess.kind };
  for (const field of ['runId', 'attempt', 'dispatchedAt'] as const) if (guess[field] !== undefined) expect[field] = guess[field];
  return expect;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
