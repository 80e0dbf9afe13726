/**
 * Chains: members run one after another, each result handed to the next. A chain
 * is a container with one slot that stops at its first failure (`container.ts`
 * moves it); this module holds what only a chain does: its result is its last
 * member's, its error is its failed member's, and the members after a failure
 * never run.
 *
 * Members end in order, so the members counted done are the first `done` ones:
 * the chain reads only the member it needs (O(1)), never the whole list.
 */
import type { ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { SwarmCounts } from '../ports/store';
import { goneError } from './container';
import type { Runtime } from './runtime';
import { expireTree } from './settle';

/** The chain's result: its last member's. */
export async function chainResult(rt: Runtime, chain: SignatureRecord): Promise<unknown> {
  const last = chain.members?.at(-1);
  return last === undefined ? null : ((await rt.store.getRecord(last))?.result?.value ?? null);
}

/** The error of the member that failed the chain, when the caller did not have it at hand (a recovery). */
export async function chainFailure(rt: Runtime, chain: SignatureRecord, counts: SwarmCounts): Promise<ErrorInfo> {
  const failed = chain.members?.[counts.done];
  if (failed === undefined) return goneError(chain.key);
  return (await rt.store.getRecord(failed))?.error ?? goneError(failed);
}

/** Members after a failure never run: out of the queue, and they live only the done TTL. */
export async function stopChainMembers(rt: Runtime, chainKey: string): Promise<void> {
  await expireTree(rt, await rt.store.swarmDrainQueue(chainKey));
}
