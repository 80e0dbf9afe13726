/**
 * Swarms: members run in parallel under a concurrency cap. The Store holds the
 * queue, the slots and the counts, and changes them in atomic steps, so racing
 * workers never exceed the cap nor count a member twice. One member's whole life
 * costs a constant number of Store calls, whatever the swarm's size.
 */
import { CorruptRecordError, describeError } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { ClaimOptions, FinishResult, RecordUpdate, SwarmCounts, UpdateResult } from '../ports/store';
import { containerMessage } from './message';
import { sendSwarmMembers } from './dispatch';
import type { Runtime } from './runtime';
import { settle } from './settle';

/**
 * `freeing`: called from a run that is ending, whose own slot in the engine is
 * about to be free (the engine still counts it as running).
 */
function claimOptions(rt: Runtime, swarm: SignatureRecord, freeing = false): ClaimOptions {
  const capacity = rt.engine.capacity?.();
  return {
    maxConcurrency: swarm.swarm?.maxConcurrency ?? 30,
    whenStatus: ['active'],
    worker: rt.workerId,
    ttlSec: rt.ttl('swarm', 'active'),
    stopAfterFailures: swarm.swarm?.stopAfterNFailures,
    // at least one, so a swarm makes progress on a busy worker
    ...(capacity === undefined ? {} : { limit: Math.max(1, capacity + (freeing ? 1 : 0)) }),
  };
}

/** Gives free slots to queued members and sends them; ends the swarm if nothing is left to run. */
export async function fillSwarm(rt: Runtime, swarm: SignatureRecord): Promise<void> {
  await rt.guard([swarm.key], () =>
    failOnCorruption(rt, swarm, async () => {
      const claimed = await rt.store.swarmClaim(swarm.key, claimOptions(rt, swarm));
      await sendClaimed(rt, swarm, claimed);
      await checkSwarmEnd(rt, swarm, await rt.store.swarmCounts(swarm.key));
    }),
  );
}

export async function onSwarmMemberEnd(
  rt: Runtime,
  swarm: SignatureRecord,
  member: string,
  outcome: { ok: true; result: unknown } | { ok: false },
): Promise<void> {
  await rt.guard([swarm.key, member], () =>
    failOnCorruption(rt, swarm, async () => afterCount(rt, swarm, await rt.store.swarmFinish(swarm.key, member, outcome, claimOptions(rt, swarm, true)))),
  );
}

/** What follows a member's count: the members given its slot are sent, the swarm's end is checked. */
async function afterCount(rt: Runtime, swarm: SignatureRecord, finished: FinishResult): Promise<void> {
  await sendClaimed(rt, swarm, finished.claimed);
  await checkSwarmEnd(rt, swarm, finished.counts);
}

/**
 * A swarm member's end and its count in the swarm as one store step (one round trip,
 * and no crash can come between them): the writer hands `Runtime.apply` a write that,
 * when it ends the member, also counts it, frees its slot and claims the next. Only for
 * members with nothing to do between the two (no callbacks of their own).
 */
export function swarmEndWriter(rt: Runtime, swarm: SignatureRecord, member: string) {
  let finished: FinishResult | undefined;
  return {
    async write(key: string, update: RecordUpdate): Promise<UpdateResult> {
      const status = update.set?.status;
      if (status !== 'done' && status !== 'failed') return rt.store.updateRecord(key, update);
      const outcome = status === 'done' ? { ok: true as const, result: update.set?.result?.value } : { ok: false as const };
      const result = await rt.store.swarmFinish(swarm.key, key, outcome, claimOptions(rt, swarm, true), update).catch(async (error: unknown) => {
        if (error instanceof CorruptRecordError) await failCorrupt(rt, swarm, error).catch(() => undefined);
        throw error; // the member's own end is in doubt: its run fails, the sweep looks again
      });
      if (result.ended!.ok) finished = result;
      return result.ended!;
    },
    /** whether the member's end was counted with it (then `after()` finishes the step). */
    get counted(): boolean {
      return finished !== undefined;
    },
    /** What follows the count (see `afterCount`). */
    async after(): Promise<void> {
      rt.announce(member);
      await rt.guard([swarm.key, member], () => failOnCorruption(rt, swarm, () => afterCount(rt, swarm, finished!)));
    },
  };
}

/**
 * A swarm whose own state cannot be read (a corrupt or foreign value under one of
 * its keys) cannot go on: it fails with that error, so whoever waits for it learns
 * why instead of waiting forever.
 */
async function failOnCorruption(rt: Runtime, swarm: SignatureRecord, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (!(error instanceof CorruptRecordError)) throw error;
    await failCorrupt(rt, swarm, error);
  }
}

/** Fails a swarm with the corruption that stops it; throws that error if the swarm could not be failed. */
async function failCorrupt(rt: Runtime, swarm: SignatureRecord, error: CorruptRecordError): Promise<void> {
  rt.log.error('a swarm cannot go on: its stored state is corrupt', { key: swarm.key, error: error.message });
  const ended = await rt.apply(swarm.key, 'fail', { caller: 'runtime', set: () => ({ error: describeError(error, 1) }) }).catch(() => undefined);
  if (!ended?.changed) throw error;
  await settle(rt, ended.record);
}

async function sendClaimed(rt: Runtime, swarm: SignatureRecord, claimed: readonly string[]): Promise<void> {
  if (claimed.length === 0) return;
  const records = await rt.readEach(claimed);
  const present = records.filter((r): r is SignatureRecord => r !== null && !(r instanceof CorruptRecordError));
  await sendSwarmMembers(rt, present, containerMessage(swarm));
  // A member gone (deleted, expired) or unreadable can never end by itself: count it as failed.
  for (const [i, record] of records.entries()) {
    if (record instanceof CorruptRecordError) rt.reportCorrupt(claimed[i]!, record);
    if (!record || record instanceof CorruptRecordError) await onSwarmMemberEnd(rt, swarm, claimed[i]!, { ok: false });
  }
}

/** Ends the swarm when its failure limit is reached, or when it is closed and every member ended. */
export async function checkSwarmEnd(rt: Runtime, swarm: SignatureRecord, counts: SwarmCounts): Promise<void> {
  const limit = swarm.swarm?.stopAfterNFailures;
  if (limit !== undefined && counts.failed >= limit) {
    const ended = await rt.apply(swarm.key, 'fail', {
      caller: 'runtime',
      set: () => ({ error: { name: 'SwarmFailedError', code: 'SWARM_FAILED', message: `${counts.failed} members failed (stopAfterNFailures ${limit})`, attempts: 1 } }),
    });
    if (!ended.changed) return;
    await holdQueued(rt, swarm.key);
    await settle(rt, ended.record);
    return;
  }
  if (!counts.closed || counts.done + counts.failed < counts.total) return;
  const current = await rt.store.getRecord(swarm.key);
  if (!current) return;
  if (current.status !== 'active') {
    if (current.status === 'done' || current.status === 'failed') await settle(rt, current); // a crash cut it short
    return;
  }
  const results = await rt.store.swarmResults(swarm.key);
  const ended = await rt.apply(swarm.key, 'succeed', { caller: 'runtime', known: current, set: () => ({ result: { value: results } }) });
  if (ended.changed) await settle(rt, ended.record);
}

/** Members that never started are suspended when the swarm stops early. */
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
