/**
 * What follows a signature's end: its callbacks fire, the callback branch that will
 * never run is given the done TTL, its container hears of it, and the record is
 * marked settled. Every step tolerates being run again after a crash: callbacks
 * are signatures that start once, and containers count each member once.
 */
import { InvalidTransitionError, SignatureNotFoundError, type ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import { messageFor, startSignature } from './dispatch';
import type { Runtime } from './runtime';
import { cleanupsEnded, continueOwner, reportCleanupFailure, startCleanups } from './cleanup';
import { onMemberEnd } from './container';
import { collectTree, memberCallbacksOf } from './tree';

/** The message error callbacks receive. */
export interface ErrorCallbackMessage {
  error: ErrorInfo;
  /** the message the failed signature was run with. */
  input: unknown;
  /** the failed signature's key. */
  key: string;
}

export type Outcome = 'done' | 'failed';

/** done or failed, including a signature marked for deletion after it ended. */
export function outcomeOf(record: SignatureRecord): Outcome | undefined {
  const status = record.status === 'marked_for_deletion' ? record.lastStatus : record.status;
  return status === 'done' || status === 'failed' ? status : undefined;
}

/** `parent`: the container record when the caller has just read it (saves reading it again). */
export async function settle(rt: Runtime, record: SignatureRecord, parent?: SignatureRecord): Promise<void> {
  if (record.settled) return;
  const outcome = outcomeOf(record);
  if (!outcome) return;
  if (outcome === 'done') {
    await fire(rt, record.successCallbacks, record.result?.value);
    await expireTree(rt, record.errorCallbacks);
  } else {
    const message: ErrorCallbackMessage = {
      error: record.error ?? failedWithoutError,
      input: (await messageFor(rt, record)) ?? null, // a swarm member's is its swarm's, not kept on it
      key: record.key,
    };
    await fire(rt, record.errorCallbacks, message);
    await expireTree(rt, record.successCallbacks);
    if (record.cleanupOf) await reportCleanupFailure(rt, record);
  }
  await expireTree(rt, memberCallbacksOf(record)); // its members have all ended: the templates are done with
  await startCleanups(rt, record, outcome);
  // Finally semantics: a member counts in its container once its cleanups have run, so
  // the next step of a chain, and its container's own cleanups, come after them. The
  // last cleanup to end settles it again (`continueOwner`).
  if (record.parent && !(await cleanupsEnded(rt, record))) return rt.announce(record.key);
  if (record.cleanupOf) await continueOwner(rt, record.cleanupOf);
  const parentKind = record.parent ? await notifyParent(rt, record.parent, record, outcome, parent) : undefined;
  // A container member without callbacks needs no settled mark: it is not in the open
  // index, and its container counts it once however often it is settled. Skipping the
  // write keeps a member's life at a constant, small number of store calls.
  if (parentKind === undefined || hasOwnCallbacks(record)) {
    await rt.store.updateRecord(record.key, { set: { settled: true }, untrack: true });
  }
  rt.announce(record.key);
}

/** Whether a signature has success, error or cleanup callbacks of its own. */
export function hasOwnCallbacks(record: SignatureRecord): boolean {
  return record.successCallbacks.length + record.errorCallbacks.length + (record.cleanupCallbacks?.length ?? 0) > 0;
}

/** Starts callbacks (or cleanups: `what`); one already started (a repeated settle) is left alone. */
export async function fire(rt: Runtime, keys: readonly string[], message: unknown, what = 'callback'): Promise<void> {
  for (const key of keys) {
    try {
      await startSignature(rt, key, message, 'runtime');
    } catch (error) {
      if (error instanceof InvalidTransitionError) continue; // fired before
      if (error instanceof SignatureNotFoundError) {
        rt.log.warn(`a ${what} signature is gone (deleted or expired); skipped`, { key });
        continue;
      }
      throw error;
    }
  }
}

async function notifyParent(rt: Runtime, parentKey: string, member: SignatureRecord, outcome: Outcome, known?: SignatureRecord) {
  const parent = known?.key === parentKey ? known : await rt.containerView(parentKey);
  if (!parent || parent.kind === 'task') return undefined; // the container was canceled or deleted with its members
  await onMemberEnd(rt, parent, member.key, outcome === 'done' ? { ok: true, result: member.result?.value } : { ok: false, error: member.error ?? failedWithoutError }, member);
  return parent.kind;
}

const failedWithoutError: ErrorInfo = { name: 'Error', message: 'failed', attempts: 1 };

/** A branch that will never run lives only the done TTL. */
export async function expireTree(rt: Runtime, roots: readonly string[]): Promise<void> {
  if (roots.length === 0) return;
  const tree = await collectTree(rt, roots, { cleanups: true }); // what never runs is never cleaned up after either
  for (const [kind, keys] of tree.byKind) if (keys.length > 0) await rt.store.expireRecords(keys, rt.ttl(kind, 'done'));
}
