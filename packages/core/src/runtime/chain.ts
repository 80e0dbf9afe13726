/**
 * Chains: members run one after another, each result handed to the next.
 *
 * `advanceChain` is the one step that moves a chain: it looks at the member under
 * the cursor and does what its status calls for. It is safe to run at any time, as
 * often as wanted (after a member ends, on resume, in a recovery sweep): the cursor
 * only moves by a conditional write, and a member starts at most once.
 */
import { InvalidTransitionError } from '../errors';
import type { SignatureRecord } from '../model/record';
import { containerMessage } from './message';
import { startSignature } from './dispatch';
import type { Runtime } from './runtime';
import { expireTree, outcomeOf, settle } from './settle';

/** `chain`: the chain record as just read by the caller, which saves reading it again. */
export async function onChainMemberEnd(rt: Runtime, chain: SignatureRecord): Promise<void> {
  await advanceChain(rt, chain.key, chain);
}

export async function advanceChain(rt: Runtime, chainKey: string, known?: SignatureRecord): Promise<void> {
  await rt.guard([chainKey], () => advance(rt, chainKey, known));
}

async function advance(rt: Runtime, chainKey: string, known?: SignatureRecord): Promise<void> {
  // Every decision below rests on a conditional write, so a recent read of the chain
  // serves as well as a fresh one: a stale one only loses the write and reads again.
  let next = known;
  for (;;) {
    const chain = next ?? (await rt.store.getRecord(chainKey));
    next = undefined;
    if (!chain) return;
    if (chain.status !== 'active') {
      if (outcomeOf(chain)) await settle(rt, chain); // ended before a crash cut its settle short
      return; // suspended, interrupted, pending: hold
    }
    const members = chain.members ?? [];
    const cursor = chain.cursor ?? 0;
    const [member, previous] = await rt.store.getRecords([members[cursor] ?? '', members[cursor - 1] ?? '']);

    if (cursor >= members.length) {
      const ended = await rt.apply(chainKey, 'succeed', { caller: 'runtime', set: () => ({ result: previous?.result ?? { value: null } }) });
      if (ended.changed) await settle(rt, ended.record);
      return;
    }
    if (!member) {
      // A member canceled or expired mid-chain: the chain cannot go on, and must not hang.
      await failChain(rt, chainKey, { name: 'TaskCanceledError', message: `chain member ${members[cursor]} is gone (canceled or expired)`, code: 'TASK_CANCELED', attempts: 0 });
      return;
    }
    const outcome = outcomeOf(member);
    if (outcome === 'done') {
      const moved = await rt.store.updateRecord(chainKey, { expect: { status: ['active'], cursor }, set: { cursor: cursor + 1 } });
      if (moved.ok) next = moved.record;
      continue; // moved (by us or a racing worker): look again
    }
    if (outcome === 'failed') {
      await failChain(rt, chainKey, member.error ?? { name: 'Error', message: 'member failed', attempts: 1 });
      return;
    }
    const due = member.status === 'pending' && member.dispatchedAt === undefined;
    const pausedWithoutMessage = (member.status === 'suspended' || member.status === 'interrupted') && !member.message;
    if (due || pausedWithoutMessage) {
      // A paused member keeps the message for its resume.
      const message = cursor === 0 ? containerMessage(chain) : previous?.result?.value;
      try {
        await startSignature(rt, member.key, message, 'runtime');
      } catch (error) {
        if (!(error instanceof InvalidTransitionError)) throw error; // started by a racing worker
      }
    }
    return; // the member is in flight or held: its end moves the chain on
  }
}

async function failChain(rt: Runtime, chainKey: string, error: NonNullable<SignatureRecord['error']>) {
  const ended = await rt.apply(chainKey, 'fail', { caller: 'runtime', set: () => ({ error }) });
  if (!ended.changed) return;
  const later = (ended.record.members ?? []).slice((ended.record.cursor ?? 0) + 1);
  await expireTree(rt, later); // members after the failure never run
  await settle(rt, ended.record);
}
