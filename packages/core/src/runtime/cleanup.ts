/**
 * Cleanup: what runs after a signature ends, however it ends (finally semantics).
 *
 * - Cleanup signatures (`cleanup: [...]` on a signature, chain or swarm) are started
 *   once, at the first of: its end (done, or failed after the last attempt), an
 *   interrupt, a cancel. A resumed signature does not run them again. They are
 *   signatures like callbacks: they start once however often this is reached.
 * - A task's cleanup function (`mf.task(name, fn, { cleanup })`) runs in the worker
 *   that ran the body, right after every attempt, before the attempt's end is recorded.
 *
 * Neither changes the outcome, the result or which callbacks fire: a failure is
 * logged and kept as the signature's `cleanupError`.
 */
import { describeError, type ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { CleanupEnd, RegisteredTask, TaskContext } from './registry';
import type { Runtime } from './runtime';
import { fire, outcomeOf, settle } from './settle';

export type CleanupOutcome = 'done' | 'failed' | 'interrupted' | 'canceled';

/** What a cleanup signature is sent. */
export interface CleanupMessage {
  key: string;
  outcome: CleanupOutcome;
  /** the result, when it is done. */
  result?: unknown;
  /** the error, when it failed. */
  error?: ErrorInfo;
}

/** Starts a signature's cleanup signatures with how it ended; ones started before are left alone. */
export async function startCleanups(rt: Runtime, record: SignatureRecord, outcome: CleanupOutcome): Promise<void> {
  const keys = record.cleanupCallbacks ?? [];
  if (keys.length === 0) return;
  const message: CleanupMessage = {
    key: record.key,
    outcome,
    ...(outcome === 'done' ? { result: record.result?.value ?? null } : {}),
    ...(outcome === 'failed' && record.error ? { error: record.error } : {}),
  };
  await fire(rt, keys, message, 'cleanup');
}

/** A cleanup signature that failed for good: its owner keeps the error, the outcome stays as it was. */
export async function reportCleanupFailure(rt: Runtime, cleanup: SignatureRecord): Promise<void> {
  if (!cleanup.cleanupOf || !cleanup.error) return;
  rt.log.warn('a cleanup signature failed', { key: cleanup.key, of: cleanup.cleanupOf, error: cleanup.error.message });
  await rt.store.updateRecord(cleanup.cleanupOf, { set: { cleanupError: cleanup.error } });
}

/** Whether every cleanup signature of a record has ended (one that is gone counts as ended). */
export async function cleanupsEnded(rt: Runtime, record: SignatureRecord): Promise<boolean> {
  const keys = record.cleanupCallbacks ?? [];
  if (keys.length === 0) return true;
  const cleanups = await rt.store.getRecords(keys);
  return cleanups.every((c) => c === null || outcomeOf(c) !== undefined);
}

/** A cleanup ended: the member it cleaned up after may now be counted in its container. */
export async function continueOwner(rt: Runtime, ownerKey: string): Promise<void> {
  const owner = await rt.store.getRecord(ownerKey);
  if (owner?.parent && !owner.settled && outcomeOf(owner)) await settle(rt, owner);
}

/** Longest a cleanup function may take before the run goes on without it. */
const CLEANUP_TIMEOUT_MS = 30_000;

/**
 * Runs a task's cleanup function after an attempt; returns its failure (logged),
 * never throws. A cleanup that hangs is given up on after `cleanupTimeoutMs`.
 */
export async function runCleanupFn(rt: Runtime, task: RegisteredTask, ctx: TaskContext, end: CleanupEnd): Promise<ErrorInfo | undefined> {
  const cleanup = task.options.cleanup;
  if (!cleanup) return undefined;
  const limit = task.options.cleanupTimeoutMs ?? CLEANUP_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => cleanup(ctx, end)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the cleanup of task "${task.name}" took longer than ${limit} ms`)), limit);
      }),
    ]);
    return undefined;
  } catch (error) {
    const info = describeError(error, ctx.attempt);
    rt.log.warn('a task cleanup failed', { task: task.name, key: ctx.key, error: info.message });
    return info;
  } finally {
    clearTimeout(timer);
  }
}
