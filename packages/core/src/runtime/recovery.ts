/**
 * The sweep: finds work that a dead worker left half done and finishes it, and
 * deletes signatures whose deletion window has passed. Every action is one of the
 * idempotent steps the runtime takes anyway, so a sweep racing live workers (or
 * another sweep) changes nothing they would not.
 *
 * What it does, by status (roadmap "auto-resume"): running on a dead worker ->
 * sent again; dispatched by a dead worker and not started -> sent again; ended but
 * not settled -> settled; active chains and swarms -> moved on; suspended -> kept;
 * failed -> skipped.
 */
import { CorruptRecordError } from '../errors';
import type { SignatureRecord } from '../model/record';
import { startCleanups } from './cleanup';
import { fillContainer, goneError, memberMessage, onMemberEnd } from './container';
import { sendMembers, sendTask } from './dispatch';
import { deleteTree } from './lifecycle';
import { settlePendingSkips } from './graph';
import { sleep, type Runtime } from './runtime';
import { outcomeOf, settle } from './settle';

export interface SweepOptions {
  /** only resume tasks with these names (containers are always moved on). */
  taskNames?: readonly string[];
  /** wait a random 0..staggerMs between resumed runs, so a restart does not stampede. */
  staggerMs?: number;
  /** this worker has just started: runs stamped with its own id are from its previous life. */
  startup?: boolean;
}

export interface SweepReport {
  /** running on a dead worker: sent again. */
  resumed: string[];
  /** dispatched by a dead worker before it started: sent again. */
  started: string[];
  /** suspended or interrupted: left as they are. */
  kept: string[];
  /** ended but their callbacks or container notice may not have happened: settled. */
  settled: string[];
  /** active containers moved on. */
  continued: string[];
  /** deleted for good (expired deletion window, unfinished cancel). */
  deleted: string[];
  /** records that could not be handled, with the reason. */
  failures: { key: string; error: string }[];
  /** records that cannot be read (corrupt or foreign values): skipped, logged once. */
  corrupt: { key: string; error: string }[];
}

export async function sweep(rt: Runtime, options: SweepOptions = {}): Promise<SweepReport> {
  const report: SweepReport = { resumed: [], started: [], kept: [], settled: [], continued: [], deleted: [], failures: [], corrupt: [] };
  const live = await rt.store.liveWorkers();
  const suspects = new Set(rt.suspects);
  rt.suspects.clear();
  const dead = (worker: string | undefined) =>
    worker !== undefined && (worker === rt.workerId ? options.startup === true : !live.has(worker));
  // A record whose step failed midway in this worker is as good as orphaned.
  const orphaned = (record: SignatureRecord) => dead(record.worker) || suspects.has(record.key);
  let cursor: string | undefined;
  // A sweep cut short leaves its suspects to the next one.
  await rt.guard([...suspects], async () => {
    do {
      const page = await rt.store.listOpen(cursor, 200);
      cursor = page.cursor;
      for (const [i, record] of (await rt.readEach(page.keys)).entries()) {
        if (!record) continue;
        if (record instanceof CorruptRecordError) {
          // One unreadable record must not stop the recovery of all the others.
          rt.reportCorrupt(page.keys[i]!, record);
          report.corrupt.push({ key: page.keys[i]!, error: record.message });
          continue;
        }
        try {
          await recoverOne(rt, record, { dead, orphaned, suspects }, options, report);
        } catch (error) {
          rt.suspect(record.key); // try again next time
          report.failures.push({ key: record.key, error: String(error) });
        }
      }
    } while (cursor !== undefined);
  });
  if (report.failures.length > 0) rt.log.warn('sweep could not handle some records', { failures: report.failures });
  return report;
}

async function recoverOne(
  rt: Runtime,
  record: SignatureRecord,
  judge: Judge,
  options: SweepOptions,
  report: SweepReport,
) {
  const selected = record.kind !== 'task' || !options.taskNames || options.taskNames.includes(record.taskName);
  if (record.status === 'canceled') {
    report.deleted.push(...(await deleteTree(rt, record, 'cancel')));
  } else if (record.status === 'marked_for_deletion') {
    if ((record.deleteAt ?? Infinity) <= Date.now()) report.deleted.push(...(await deleteTree(rt, record, 'expire')));
    else if (outcomeOf(record) && !record.settled) (await settle(rt, record), report.settled.push(record.key));
  } else if (outcomeOf(record)) {
    if (!record.settled) (await settle(rt, record), report.settled.push(record.key));
  } else if (record.status === 'suspended' || record.status === 'interrupted') {
    // an interrupt cut short before its cleanups started (they start once)
    if (record.status === 'interrupted') await startCleanups(rt, record, 'interrupted');
    report.kept.push(record.key);
  } else if (record.kind !== 'task' && record.status === 'active') {
    await recoverContainer(rt, record, judge, report);
    report.continued.push(record.key);
  } else if (record.kind === 'task' && selected && judge.orphaned(record) && record.message) {
    const wasRunning = record.status === 'active';
    if (!wasRunning && record.dispatchedAt === undefined) return; // never sent: nothing was lost
    if (await takeOver(rt, record)) {
      (wasRunning ? report.resumed : report.started).push(record.key);
      if (options.staggerMs) await sleep(Math.random() * options.staggerMs);
    }
  }
}

/** Who is gone: dead workers, and records whose step failed midway in this worker. */
interface Judge {
  dead(worker: string | undefined): boolean;
  orphaned(record: SignatureRecord): boolean;
  suspects: Set<string>;
}

/** Moves a dead worker's run to this worker: back to pending, stamped, sent again. */
async function takeOver(rt: Runtime, record: SignatureRecord): Promise<boolean> {
  const stampedAt = Date.now();
  const taken = await backToPending(rt, record, { dispatchedAt: stampedAt, worker: rt.workerId });
  if (!taken) return false; // someone else moved it first
  await sendTask(rt, taken, record.message?.value, stampedAt);
  return true;
}

/** A run that will never end (its worker is gone) gives its signature back to pending, if nobody moved it since. */
async function backToPending(rt: Runtime, record: SignatureRecord, stamp: Partial<SignatureRecord> = {}): Promise<SignatureRecord | undefined> {
  const reset = await rt.store.updateRecord(record.key, {
    expect: { status: [record.status], worker: record.worker ?? null, runId: record.runId ?? null },
    set: { status: 'pending', ...stamp },
    unset: ['runId', 'attempt'],
  });
  return reset.ok ? reset.record : undefined;
}

/**
 * Slots held by dead workers are taken over. This worker's own slots are checked
 * too when a step of its failed midway (the container's, or the member's own): a member
 * that ended is settled (counted), one never started is sent again (a duplicate run
 * is turned away at its start), one running here is left alone.
 */
async function recoverContainer(rt: Runtime, container: SignatureRecord, judge: Judge, report: SweepReport) {
  const suspect = judge.suspects.has(container.key);
  for (const slot of await rt.store.swarmRunning(container.key)) {
    const mineInDoubt = slot.worker === rt.workerId && (suspect || judge.suspects.has(slot.member));
    if (!judge.dead(slot.worker) && !mineInDoubt) continue;
    const member = await rt.store.getRecord(slot.member).catch((error: unknown) => {
      if (!(error instanceof CorruptRecordError)) throw error;
      rt.reportCorrupt(slot.member, error);
      return null; // unreadable: counted as failed, like a member that is gone
    });
    if (!member) {
      await onMemberEnd(rt, container, slot.member, { ok: false, error: goneError(slot.member) });
      continue;
    }
    if (outcomeOf(member)) {
      await settle(rt, member); // ended, but its count was lost with the worker
      report.settled.push(member.key);
      continue;
    }
    // Begun in a claim whose reply was lost, its run was never started here.
    const lostHere = mineInDoubt && member.status === 'active' && member.runId !== undefined && !rt.holdsRun(member.runId);
    if (member.status === 'active' && !judge.orphaned(member) && !lostHere) continue; // a live worker runs it
    if (!(await rt.store.swarmReassign(container.key, slot.member, slot.worker, rt.workerId))) continue;
    if (member.status === 'active') {
      if (!(await backToPending(rt, member))) continue;
      report.resumed.push(member.key);
    } else if (member.status === 'pending') {
      report.started.push(member.key);
    } else {
      report.kept.push(member.key);
      continue;
    }
    await sendMembers(rt, container, [member], member.message ? member.message.value : await memberMessage(rt, container, member.key));
  }
  // skips a crash left between two steps of a graph's advance
  if (container.kind === 'graph') await settlePendingSkips(rt, container);
  await fillContainer(rt, container);
}
