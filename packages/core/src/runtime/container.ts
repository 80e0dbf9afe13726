/**
 * Containers: chains, swarms and graphs keep their members in the Store's queue with
 * slots. A swarm has `maxConcurrency` slots; a chain is a queue with one slot that
 * stops at its first failure and hands each member the previous member's result
 * (see `chain.ts`); a graph queues its nodes as they become ready (see `graph.ts`). The Store changes queue, slots and counts in atomic steps, so
 * racing workers never exceed the cap nor count a member twice, and a member's
 * whole life costs a constant number of Store calls, whatever the container's size.
 */
import { randomUUID } from 'node:crypto';
import { CorruptRecordError, describeError, SignatureNotFoundError, type ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { Claimed, ClaimOptions, FinishResult, RecordUpdate, SwarmCounts, UpdateResult } from '../ports/store';
import { chainFailure, chainResult, stopChainMembers } from './chain';
import { fireMemberCallbacks } from './member-callbacks';
import { checkGraphEnd, nodeMessage, onNodeEnd } from './graph';
import { containerMessage } from './message';
import { sendMembers } from './dispatch';
import type { Runtime } from './runtime';
import { settle } from './settle';
import { listsResults, resultsHandle, tooManyResults } from './swarm-results';

/** How a member ended, as its container hears it. */
export type MemberOutcome = { ok: true; result: unknown } | { ok: false; error: ErrorInfo };

/** A chain is a queue with one slot that stops at the first failure. */
function policy(container: SignatureRecord): { maxConcurrency: number; stopAfterFailures?: number } {
  if (container.kind === 'chain') return { maxConcurrency: 1, stopAfterFailures: 1 };
  // a graph's failures are routed by its edges (`graph.ts`), not counted against a limit
  if (container.kind === 'graph') return { maxConcurrency: container.graph?.maxConcurrency ?? 30 };
  return { maxConcurrency: container.swarm?.maxConcurrency ?? 30, stopAfterFailures: container.swarm?.stopAfterNFailures };
}

/**
 * `freeing`: called from a run that is ending, whose own slot in the engine is
 * about to be free (the engine still counts it as running).
 * `previous`: a chain's message for the member it claims (the result just stored).
 */
export function claimOptions(rt: Runtime, container: SignatureRecord, freeing = false, previous?: { value: unknown }): ClaimOptions {
  const capacity = rt.engine.capacity?.();
  const { maxConcurrency, stopAfterFailures } = policy(container);
  return {
    maxConcurrency,
    whenStatus: ['active'],
    worker: rt.workerId,
    ttlSec: rt.ttl(container.kind, 'active'),
    stopAfterFailures,
    // at least one, so a container makes progress on a busy worker
    ...(capacity === undefined ? {} : { limit: Math.max(1, capacity + (freeing ? 1 : 0)) }),
    ...beginOptions(rt, container, previous),
  };
}

/**
 * With an engine that takes our run ids, a claimed task is recorded as begun in the
 * claim itself, with what its run's begin would write (`task-runner.ts`): a swarm
 * member notes when it was sent, a chain member keeps its message (so a chain claims
 * this way only where it knows that message).
 */
function beginOptions(rt: Runtime, container: SignatureRecord, previous?: { value: unknown }): Pick<ClaimOptions, 'begin'> {
  if (!rt.engine.acceptRunIds) return {};
  if (container.kind === 'swarm') return { begin: { runIdPrefix: nextRunIdPrefix(), set: { dispatchedAt: Date.now() } } };
  return previous ? { begin: { runIdPrefix: nextRunIdPrefix(), set: { message: previous } } } : {};
}

/** Unique across processes (a random part per process) without a random draw per claim. */
const processRunIds = randomUUID();
let claims = 0;
const nextRunIdPrefix = () => `${processRunIds}-${(claims++).toString(36)}`;

/** What a member's end hands on to the next member of a chain. */
function handedOn(outcome: MemberOutcome): { value: unknown } | undefined {
  return outcome.ok ? { value: outcome.result ?? null } : undefined;
}

/** What the store keeps of an outcome: a chain's results are read from its members, so it keeps none. */
function counted(container: SignatureRecord, outcome: MemberOutcome): { ok: true; result: unknown } | { ok: false } {
  if (!outcome.ok) return { ok: false };
  return { ok: true, result: container.kind === 'chain' ? null : outcome.result };
}

/** Gives free slots to queued members and sends them; ends the container if nothing is left to run. */
export async function fillContainer(rt: Runtime, container: SignatureRecord): Promise<void> {
  await rt.guard([container.key], () =>
    failOnCorruption(rt, container, async () => {
      const claimed = await rt.store.swarmClaim(container.key, claimOptions(rt, container));
      await sendClaimed(rt, container, claimed);
      await checkContainerEnd(rt, container, await rt.store.swarmCounts(container.key));
    }),
  );
}

/** `record`: the member's record, when it is still there (for a swarm's per-member callbacks). */
export async function onMemberEnd(rt: Runtime, container: SignatureRecord, member: string, outcome: MemberOutcome, record?: SignatureRecord): Promise<void> {
  if (container.kind === 'graph') {
    return rt.guard([container.key, member], () => failOnCorruption(rt, container, () => onNodeEnd(rt, container, member, outcome)));
  }
  await rt.guard([container.key, member], () =>
    failOnCorruption(rt, container, async () => {
      // before the count: the last member's count may end the swarm
      await fireMemberCallbacks(rt, container, member, record, outcome);
      const finished = await rt.store.swarmFinish(container.key, member, counted(container, outcome), claimOptions(rt, container, true, handedOn(outcome)));
      await afterCount(rt, container, outcome, finished);
    }),
  );
}

/** What follows a member's count: the members given its slot are sent, the container's end is checked. */
async function afterCount(rt: Runtime, container: SignatureRecord, outcome: MemberOutcome, finished: FinishResult): Promise<void> {
  // (each step only when it has something to do: most counts hand on one slot and end nothing)
  if (finished.claimed.length > 0) await sendClaimed(rt, container, finished.claimed, outcome.ok ? outcome.result : undefined);
  if (mayEnd(container, finished.counts)) await checkContainerEnd(rt, container, finished.counts, outcome.ok ? undefined : outcome.error);
}

/**
 * A member's end and its count in its container as one store step (one round trip,
 * and no crash can come between them): the writer hands `Runtime.apply` a write that,
 * when it ends the member, also counts it, frees its slot and claims the next. Only for
 * members with nothing to do between the two (no callbacks of their own).
 */
export function memberEndWriter(rt: Runtime, container: SignatureRecord, member: string): MemberEndWriter {
  return new MemberEndWriter(rt, container, member);
}

/** (a class rather than closures over an object literal: one is made for every member's end) */
class MemberEndWriter {
  private finished: { result: FinishResult; outcome: MemberOutcome } | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly container: SignatureRecord,
    private readonly member: string,
  ) {}

  readonly write = async (key: string, update: RecordUpdate): Promise<UpdateResult> => {
    const { rt, container } = this;
    const status = update.set?.status;
    if (status !== 'done' && status !== 'failed') return rt.store.updateRecord(key, update);
    const outcome: MemberOutcome =
      status === 'done' ? { ok: true, result: update.set?.result?.value } : { ok: false, error: update.set?.error ?? unknownFailure };
    let result: FinishResult;
    try {
      result = await rt.store.swarmFinish(container.key, key, counted(container, outcome), claimOptions(rt, container, true, handedOn(outcome)), update);
    } catch (error) {
      if (error instanceof CorruptRecordError) await failCorrupt(rt, container, error).catch(() => undefined);
      throw error; // the member's own end is in doubt: its run fails, the sweep looks again
    }
    if (result.ended!.ok) this.finished = { result, outcome };
    return result.ended!;
  };

  /** whether the member's end was counted with it (then `after()` finishes the step). */
  get counted(): boolean {
    return this.finished !== undefined;
  }

  /** What follows the count (see `afterCount`). */
  async after(): Promise<void> {
    const { rt, container, member, finished } = this;
    rt.announce(member);
    try {
      await afterCount(rt, container, finished!.outcome, finished!.result);
    } catch (error) {
      await guardedRecovery(rt, container, [container.key, member], error);
    }
  }
}

const unknownFailure: ErrorInfo = { name: 'Error', message: 'member failed', attempts: 1 };

/**
 * A container whose own state cannot be read (a corrupt or foreign value under one
 * of its keys) cannot go on: it fails with that error, so whoever waits for it
 * learns why instead of waiting forever.
 */
async function failOnCorruption(rt: Runtime, container: SignatureRecord, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (!(error instanceof CorruptRecordError)) throw error;
    await failCorrupt(rt, container, error);
  }
}

/**
 * `rt.guard(keys, () => failOnCorruption(rt, container, step))` for a step that already
 * failed with `error`, for hot paths that run the step inline (one async layer instead of three).
 */
async function guardedRecovery(rt: Runtime, container: SignatureRecord, keys: string[], error: unknown): Promise<void> {
  try {
    if (!(error instanceof CorruptRecordError)) throw error;
    await failCorrupt(rt, container, error); // the container failed with it: the step is over
  } catch (failure) {
    if (!(failure instanceof SignatureNotFoundError)) rt.suspect(...keys);
    throw failure;
  }
}

/** Fails a container with the corruption that stops it; throws that error if it could not be failed. */
async function failCorrupt(rt: Runtime, container: SignatureRecord, error: CorruptRecordError): Promise<void> {
  rt.log.error(`a ${container.kind} cannot go on: its stored state is corrupt`, { key: container.key, error: error.message });
  const ended = await rt.apply(container.key, 'fail', { caller: 'runtime', set: () => ({ error: describeError(error, 1) }) }).catch(() => undefined);
  if (!ended?.changed) throw error;
  await settle(rt, ended.record);
}

/** `previous`: the result of the member that just ended, which a chain hands to the member after it. */
export async function sendClaimed(rt: Runtime, container: SignatureRecord, claimed: readonly Claimed[], previous?: unknown): Promise<void> {
  if (claimed.length === 0) return;
  const present: SignatureRecord[] = [];
  const begun = new Set<string>();
  for (const { key, record, runId } of claimed) {
    if (record === null || record instanceof CorruptRecordError) continue;
    present.push(record);
    if (runId !== undefined) begun.add(key);
  }
  if (present.length > 0 && container.kind === 'graph') {
    // each node has a message of its own: its parents' outputs
    for (const record of present) {
      const message = await nodeMessage(rt, container, record.key);
      await rt.guard([record.key], () => sendMembers(rt, container, [record], message, begun));
    }
  } else if (present.length > 0) {
    const message =
      container.kind !== 'chain' ? containerMessage(container) : previous === undefined ? await memberMessage(rt, container, present[0]!.key) : previous;
    // A begun member whose run was never handed over is the sweep's to send again.
    await rt.guard([...begun], () => sendMembers(rt, container, present, message, begun));
  }
  // A member gone (deleted, expired) or unreadable can never end by itself: count it as failed.
  for (const { key, record } of claimed) {
    if (record instanceof CorruptRecordError) rt.reportCorrupt(key, record);
    if (record === null || record instanceof CorruptRecordError) await onMemberEnd(rt, container, key, { ok: false, error: goneError(key) });
  }
}

/** The failure a container records for a member that is gone (canceled, expired) or unreadable. */
export function goneError(member: string): ErrorInfo {
  return { name: 'TaskCanceledError', code: 'TASK_CANCELED', message: `member ${member} is gone (canceled or expired)`, attempts: 0 };
}

/**
 * The message a member is sent: a swarm's own message for every member; in a chain,
 * the previous member's result (the chain's message for the first).
 */
export async function memberMessage(rt: Runtime, container: SignatureRecord, member: string): Promise<unknown> {
  if (container.kind === 'graph') return nodeMessage(rt, container, member);
  if (container.kind !== 'chain') return containerMessage(container);
  const members = container.members ?? [];
  const at = members.indexOf(member);
  if (at <= 0) return containerMessage(container);
  return (await rt.store.getRecord(members[at - 1]!))?.result?.value ?? null;
}

/**
 * Ends the container when its failure limit is reached (a chain's first failure), or
 * when it is closed and every member ended. `failure`: the error of the member that
 * just failed, when known.
 */
/** Whether `checkContainerEnd` may end the container (false: it would do nothing, for a chain or a swarm). */
function mayEnd(container: SignatureRecord, counts: SwarmCounts): boolean {
  if (container.kind === 'graph') return true;
  const limit = policy(container).stopAfterFailures;
  return (limit !== undefined && counts.failed >= limit) || (counts.closed && counts.done + counts.failed >= counts.total);
}

export async function checkContainerEnd(rt: Runtime, container: SignatureRecord, counts: SwarmCounts, failure?: ErrorInfo): Promise<void> {
  if (container.kind === 'graph') return checkGraphEnd(rt, container);
  const limit = policy(container).stopAfterFailures;
  if (limit !== undefined && counts.failed >= limit) {
    const error = container.kind === 'chain' ? failure ?? (await chainFailure(rt, container, counts)) : swarmFailure(counts.failed, limit);
    const ended = await rt.apply(container.key, 'fail', { caller: 'runtime', set: () => ({ error }) });
    if (!ended.changed) return;
    if (container.kind === 'chain') await stopChainMembers(rt, container.key);
    else await holdQueued(rt, container.key);
    await settle(rt, ended.record);
    return;
  }
  if (!counts.closed || counts.done + counts.failed < counts.total) return;
  const current = await rt.store.getRecord(container.key);
  if (!current) return;
  if (current.status !== 'active') {
    if (current.status === 'done' || current.status === 'failed') await settle(rt, current); // a crash cut it short
    return;
  }
  const result = current.kind === 'chain' ? await chainResult(rt, current) : await swarmResult(rt, current, counts);
  if (result === TOO_MANY) {
    const failed = await rt.apply(current.key, 'fail', { caller: 'runtime', known: current, set: () => ({ error: tooManyResults(counts, rt.config.maxListResults) }) });
    if (failed.changed) await settle(rt, failed.record);
    return;
  }
  const ended = await rt.apply(current.key, 'succeed', { caller: 'runtime', known: current, set: () => ({ result: { value: result } }) });
  if (ended.changed) await settle(rt, ended.record);
}

const TOO_MANY = Symbol('too many results');

/** What a finished swarm hands on: its result list, or a handle to read it in pages (see swarm-results.ts). */
async function swarmResult(rt: Runtime, swarm: SignatureRecord, counts: SwarmCounts): Promise<unknown> {
  if (!listsResults(swarm)) return resultsHandle(swarm.key, counts);
  if (counts.done > rt.config.maxListResults) return TOO_MANY; // never loaded: it would not fit
  return rt.store.swarmResults(swarm.key);
}

function swarmFailure(failed: number, limit: number): ErrorInfo {
  return { name: 'SwarmFailedError', code: 'SWARM_FAILED', message: `${failed} members failed (stopAfterNFailures ${limit})`, attempts: 1 };
}

/** Members of a swarm that never started are suspended when it stops early. */
async function holdQueued(rt: Runtime, swarmKey: string): Promise<void> {
  const queued = await rt.store.swarmDrainQueue(swarmKey);
  // In concurrent batches: a store that pipelines (Redis) sends each batch in one round trip.
  for (let i = 0; i < queued.length; i += HOLD_BATCH) {
    await Promise.all(
      queued.slice(i, i + HOLD_BATCH).map((key) =>
        rt.store.updateRecord(key, { expect: { status: ['pending'] }, set: { status: 'suspended', lastStatus: 'pending' }, ttlSec: rt.ttl('task', 'done') }),
      ),
    );
  }
}

const HOLD_BATCH = 500;
