/**
 * A Store wrapper that fails on purpose: the k-th write throws, and (in `crash`
 * mode) so does every call after it, as if the process died at that point. Tests
 * then hand the same underlying store to a fresh runtime and check that the
 * workflow still finishes with nothing lost or done twice.
 */
import { StoreUnavailableError, type Store } from '@mageflow/core';

const WRITES = new Set<keyof Store>([
  'createRecords', 'updateRecord', 'deleteRecords', 'expireRecords', 'swarmAdd', 'swarmClaim', 'swarmFinish',
  'swarmSetPriority', 'swarmClose', 'swarmReassign', 'swarmReset', 'swarmDrainQueue', 'lock', 'unlock', 'audit',
]);

export interface FaultPlan {
  /** the 1-based index of the write that fails. */
  failAt: number;
  /** after the failure every call fails too (the process is gone). Default true. */
  crash?: boolean;
  /** the failing write reaches the store and applies; only its reply is lost (a dropped connection). */
  replyLost?: boolean;
}

export interface FaultyStore {
  store: Store;
  /** writes seen so far. */
  writes(): number;
  /** whether the planned failure has happened. */
  tripped(): boolean;
}

export function faultyStore(inner: Store, plan: FaultPlan): FaultyStore {
  let writes = 0;
  let tripped = false;
  const crash = plan.crash ?? true;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'close') return value;
      return (...args: unknown[]) => {
        if (tripped && crash) return Promise.reject(new StoreUnavailableError('store unreachable (injected crash)'));
        if (WRITES.has(property as keyof Store)) {
          writes += 1;
          if (writes === plan.failAt) {
            tripped = true;
            const failure = new StoreUnavailableError(`injected failure at write ${writes} (${String(property)})`);
            if (!plan.replyLost) return Promise.reject(failure);
            const applied = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            return applied.then(() => Promise.reject(failure), () => Promise.reject(failure));
          }
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, writes: () => writes, tripped: () => tripped };
}

/** Counts the writes a workflow makes, so a fault test can try every k. */
export function countingStore(inner: Store): { store: Store; writes: () => number } {
  const f = faultyStore(inner, { failAt: Number.MAX_SAFE_INTEGER });
  return { store: f.store, writes: f.writes };
}
