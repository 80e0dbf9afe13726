/**
 * Starting signatures: a task is handed to the engine; a chain, swarm or graph starts its
 * members. The record is stamped (message, time, worker) before the engine sees
 * the run, so a run lost with a dead worker can be found and sent again.
 */
import { enginePriority } from '../model/priority';
import type { SignatureRecord } from '../model/record';
import type { DispatchRequest } from '../ports/engine';
import { resetTree } from './lifecycle';
import { SIGNATURE_KEY, type Runtime } from './runtime';
import { fillContainer, memberMessage } from './container';

export const box = (value: unknown) => ({ value: value === undefined ? null : value });

/** Runs a signature with a message (runNoWait, callbacks, chain steps, reruns). */
export async function startSignature(rt: Runtime, key: string, message: unknown, caller: 'user' | 'runtime'): Promise<void> {
  // The stamp may be stored while its reply is lost: the sweep then sends it.
  await rt.guard([key], () => start(rt, key, message, caller));
}

async function start(rt: Runtime, key: string, message: unknown, caller: 'user' | 'runtime'): Promise<void> {
  const now = Date.now();
  const applied = await rt.apply(key, 'run', {
    caller,
    // The usual case, written without a read first: a task that was never sent.
    guess: { kind: 'task', status: 'pending', dispatchedAt: null },
    // A finished container run again within its deletion window starts from scratch:
    // its tree is reset while it is still marked, so nothing moves it on half-reset.
    beforeWrite: async (before, decision) => {
      if (decision.effects.includes('resetTree')) await resetTree(rt, before);
    },
    // A paused task only keeps the message, for resume to send.
    set: (before, decision) =>
      decision.effects.includes('holdMessage')
        ? { message: box(message) }
        : { message: box(message), worker: rt.workerId, ...(before.kind === 'task' ? { dispatchedAt: now } : {}) },
    unset: ['deleteAt', 'settled', 'result', 'error', 'endedAt'],
    track: true,
    // a rerun within the deletion window lives the active TTL again
    ttlSec: (b) => (b.status === 'marked_for_deletion' ? rt.ttl(b.kind, 'active') : undefined),
  });
  if (!applied.decision.effects.includes('dispatch')) return;
  const record = applied.record;
  if (record.kind === 'task') await sendTask(rt, record, message, now);
  else await fillContainer(rt, record);
}

/** Hands a stamped task record to the engine; undoes the stamp if the engine refuses. */
export async function sendTask(rt: Runtime, record: SignatureRecord, message: unknown, stampedAt: number): Promise<void> {
  try {
    await rt.engine.dispatch(runRequest(rt, record, message, inheritsMessage(record)));
  } catch (error) {
    // the stamp is undone; if even that fails, the next sweep sends it
    await rt.guard([record.key], () => rt.store.updateRecord(record.key, { expect: { dispatchedAt: stampedAt }, unset: ['dispatchedAt'] }));
    throw error;
  }
}

/**
 * A swarm member's message is its swarm's, stored once on the swarm; the member
 * keeps none of its own (a large message would otherwise be copied into every member).
 */
function inheritsMessage(record: SignatureRecord): boolean {
  return record.message === undefined;
}

/** The message to send a task again (resume, recovery): its own, or the one its container gives it. */
export async function messageFor(rt: Runtime, record: SignatureRecord): Promise<unknown> {
  if (record.message) return record.message.value;
  const parent = record.parent ? await rt.containerView(record.parent) : null;
  return parent && parent.kind !== 'task' ? memberMessage(rt, parent, record.key) : undefined;
}

/**
 * A run of a task signature: the message as input, the signature key as metadata.
 * `inherited`: the message is the member's swarm's, so the run does not store it.
 */
function runRequest(rt: Runtime, record: SignatureRecord, message: unknown, inherited = false, runId?: string): DispatchRequest {
  const request: DispatchRequest = {
    task: record.taskName,
    input: inherited ? { message: message === undefined ? null : message, inherited: true } : { message: message === undefined ? null : message },
    metadata: { [SIGNATURE_KEY]: record.key },
    // a signature's own priority wins over its task's default
    priority: record.priority !== undefined ? enginePriority(record.priority) : rt.registry.get(record.taskName)?.options.priority,
  };
  if (runId !== undefined) request.runId = runId;
  return request;
}

/**
 * Sends members that were just given slots: tasks in one engine call, containers one
 * by one. A swarm's members inherit its message; a chain member keeps the message it
 * is sent (the previous result), which no other record holds.
 */
export async function sendMembers(
  rt: Runtime,
  container: SignatureRecord,
  members: readonly SignatureRecord[],
  message: unknown,
  /** members the store recorded as begun when it gave them their slot (`ClaimOptions.begin`). */
  begun?: ReadonlySet<string>,
): Promise<void> {
  const inherited = container.kind === 'swarm';
  const requests: DispatchRequest[] = [];
  let nested: SignatureRecord[] | undefined;
  for (const member of members) {
    if (member.kind !== 'task') (nested ??= []).push(member);
    else if (begun?.has(member.key)) {
      rt.handOver(member); // its run starts from this record: no round trip to begin it
      requests.push(runRequest(rt, member, message, inherited, member.runId));
    } else requests.push(runRequest(rt, member, message, inherited));
  }
  if (requests.length > 0) await rt.engine.dispatchMany(requests);
  for (const child of nested ?? []) {
    await startSignature(rt, child.key, message, 'runtime').catch((error) =>
      rt.log.warn(`could not start a nested container in a ${container.kind}`, { key: child.key, error: String(error) }),
    );
  }
}
