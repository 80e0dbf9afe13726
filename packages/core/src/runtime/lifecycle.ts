/**
 * User lifecycle operations (suspend, interrupt, resume, cancel, remove): the state
 * machine decides, this module carries out the effects.
 */
import { InvalidTransitionError, MageflowError, SignatureLockedError, SignatureNotFoundError } from '../errors';
import type { Effect } from '../model/lifecycle';
import { isFinished } from '../model/status';
import type { SignatureRecord } from '../model/record';
import { messageFor, sendTask } from './dispatch';
import type { Runtime } from './runtime';
import { fillContainer, onMemberEnd } from './container';
import { continueOwner, startCleanups } from './cleanup';
import { outcomeOf } from './settle';
import { collectTree, membersOf } from './tree';

export type UserOperation = 'suspend' | 'interrupt' | 'resume' | 'cancel' | 'remove';

export interface RemoveOptions {
  /** also mark the error callbacks. Default true. */
  withError?: boolean;
  /** also mark the success callbacks. Default true. */
  withSuccess?: boolean;
}

export async function operate(rt: Runtime, key: string, op: UserOperation, options: RemoveOptions = {}): Promise<SignatureRecord> {
  const now = Date.now();
  const applied = await rt.apply(key, op, {
    caller: 'user',
    ...(op === 'remove'
      ? {
          set: (before) => ({ deleteAt: now + rt.ttl(before.kind, 'done') * 1000 }),
          ttlSec: (before) => rt.ttl(before.kind, 'done') + DELETE_GRACE_SEC,
          track: true,
        }
      : {}),
    ...(op === 'resume'
      ? {
          // back out of the deletion window: the TTL of the status it returns to
          ttlSec: (before) =>
            before.status === 'marked_for_deletion' ? rt.ttl(before.kind, isFinished(before.lastStatus ?? 'pending') ? 'done' : 'active') : undefined,
        }
      : {}),
  });
  const { before, record, decision } = applied;
  for (const effect of decision.effects) await carryOut(rt, effect, before, record, options);
  // An interrupt ends it for now: its cleanups start once its members' have (a resume does not start them again).
  if (op === 'interrupt' && applied.changed) await startCleanups(rt, record, 'interrupted');
  return record;
}

/** Marked records outlive their deleteAt a little, so the cleanup job (not the TTL) deletes them and audits it. */
const DELETE_GRACE_SEC = 60;

async function carryOut(rt: Runtime, effect: Effect, before: SignatureRecord, record: SignatureRecord, options: RemoveOptions) {
  const container = record.kind !== 'task';
  switch (effect) {
    case 'stopRun':
      if (before.runId) await rt.engine.cancel(before.runId);
      return;
    case 'suspendMembers':
    case 'interruptMembers':
    case 'resumeMembers':
      if (container) await eachMemberInFlight(rt, record, effect === 'suspendMembers' ? 'suspend' : effect === 'interruptMembers' ? 'interrupt' : 'resume');
      return;
    case 'continue':
      if (container) await fillContainer(rt, record);
      return;
    case 'replay':
      // Sent again if it was ever sent: its own message kept, or (a swarm member) its swarm's.
      if (record.kind === 'task' && (record.message || record.dispatchedAt !== undefined) && record.status === 'pending') {
        const message = await messageFor(rt, record);
        const stampedAt = Date.now();
        const stamped = await rt.store.updateRecord(record.key, {
          expect: { status: ['pending'] },
          set: { dispatchedAt: stampedAt, worker: rt.workerId },
          track: true,
        });
        if (stamped.ok) await sendTask(rt, stamped.record, message, stampedAt);
      }
      return;
    case 'deleteTree':
      await deleteTree(rt, before, 'cancel');
      return;
    case 'markTree':
      await markTree(rt, record, options);
      return;
    default:
      return; // run-event effects do not arise from user operations
  }
}

/** Applies an operation to the members a container has in flight: those holding a slot. */
async function eachMemberInFlight(rt: Runtime, container: SignatureRecord, op: 'suspend' | 'interrupt' | 'resume') {
  const members = (await rt.store.swarmRunning(container.key)).map((slot) => slot.member);
  for (const member of members) {
    try {
      await operate(rt, member, op);
    } catch (error) {
      // A member that already ended, or is running (suspend), is left as it is.
      if (error instanceof InvalidTransitionError || error instanceof SignatureNotFoundError) continue;
      if (error instanceof MageflowError && error.code === 'TASK_ALREADY_RUNNING') continue;
      throw error;
    }
  }
}

/**
 * Cancel and the cleanup job: stop every run in the tree, delete it all, keep an
 * audit record, and tell the container the member is gone so it cannot hang.
 */
export async function deleteTree(rt: Runtime, root: SignatureRecord, action: 'cancel' | 'delete' | 'expire'): Promise<string[]> {
  const tree = await collectTree(rt, [root.key]);
  if (action === 'cancel') {
    // Cleanups run however a signature ends, innermost first; they are not part of the
    // tree, so they outlive it. One that ended before was cleaned up then (started once).
    for (const record of [...tree.records].reverse()) {
      const current = record.key === root.key ? root : record;
      await startCleanups(rt, current, outcomeOf(current) ?? 'canceled');
    }
  }
  for (const record of tree.records) {
    // The root is already `canceled` by now; any task of the tree may hold a run.
    if (record.kind === 'task' && record.runId && !['done', 'failed'].includes(record.status)) {
      await rt.engine.cancel(record.runId).catch((error) => rt.log.warn('could not cancel a run', { runId: record.runId, error: String(error) }));
    }
  }
  await rt.store.audit({ at: Date.now(), action, key: root.key, keys: tree.keys, detail: { kind: root.kind, status: root.status } }, rt.config.auditTtl);
  const deleted = await rt.store.deleteRecords(tree.keys);
  if (!deleted.ok) throw new SignatureLockedError(`cannot ${action} "${root.key}": ${deleted.locked.join(', ')} locked`, { details: { locked: deleted.locked } });
  tree.keys.forEach((key) => (rt.forget(key), rt.announce(key)));
  // a canceled cleanup has ended as far as its owner is concerned
  if (root.cleanupOf && action === 'cancel') await continueOwner(rt, root.cleanupOf);
  if (root.parent && action === 'cancel') {
    const parent = await rt.store.getRecord(root.parent);
    if (parent && parent.kind !== 'task') {
      const error = { name: 'TaskCanceledError', code: 'TASK_CANCELED', message: `member ${root.key} was canceled`, attempts: 0 };
      await onMemberEnd(rt, parent, root.key, { ok: false, error }, root);
    }
  }
  return tree.keys;
}

/**
 * A rerun: every member, callback and cleanup of a finished container back to pending
 * with its active TTL, containers' queues refilled. The root's status is left to the
 * run that follows.
 */
export async function resetTree(rt: Runtime, root: SignatureRecord): Promise<void> {
  const tree = await collectTree(rt, [root.key], { cleanups: true });
  for (const record of tree.records) {
    const isRoot = record.key === root.key;
    if (record.kind !== 'task') await rt.store.swarmReset(record.key);
    await rt.store.updateRecord(record.key, {
      set: isRoot ? {} : { status: 'pending' },
      unset: isRoot ? ['result', 'error', 'settled', 'endedAt'] : ['lastStatus', 'result', 'error', 'runId', 'attempt', 'dispatchedAt', 'worker', 'settled', 'deleteAt', 'message', 'endedAt'],
      ttlSec: rt.ttl(record.kind, 'active'),
    });
    rt.forget(record.key);
  }
}

/**
 * remove(): members (and their cleanups) share the container's deletion window; callbacks
 * and cleanups are marked too, so a rerun within the window runs them again.
 */
async function markTree(rt: Runtime, record: SignatureRecord, options: RemoveOptions) {
  const ttl = rt.ttl(record.kind, 'done') + DELETE_GRACE_SEC;
  const members = await membersOf(rt, record);
  if (members.length > 0) {
    const tree = await collectTree(rt, members, { cleanups: true });
    await rt.store.expireRecords(tree.keys, ttl);
  }
  const callbacks = [
    ...(options.withSuccess === false ? [] : record.successCallbacks),
    ...(options.withError === false ? [] : record.errorCallbacks),
    ...(record.cleanupCallbacks ?? []),
  ];
  for (const key of callbacks) {
    try {
      await operate(rt, key, 'remove', options);
    } catch (error) {
      if (!(error instanceof InvalidTransitionError || error instanceof SignatureNotFoundError)) throw error;
    }
  }
}
