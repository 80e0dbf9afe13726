/**
 * Per-member callbacks of a swarm (`memberSuccess`, `memberError`): task signatures
 * the swarm keeps as templates; each member's end fires a copy of each, before the
 * member is counted (so before the swarm's own callbacks can fire).
 *
 * A copy's key is derived from the template's and the member's, so firing is
 * idempotent: a repeated end (a crash before the count, two workers racing) finds
 * the copy already made, and a signature starts once. O(1) store work per member.
 */
import { createHash } from 'node:crypto';
import type { ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { Runtime } from './runtime';
import { memberMessage } from './container';
import { fire } from './settle';

/** What a member success callback is sent. */
export interface MemberSuccessMessage {
  result: unknown;
  /** the member's key and its position in the swarm (from 0, in the order added). */
  key: string;
  index?: number;
}

/** What a member error callback is sent: the error callback message, with the member's index. */
export interface MemberErrorMessage {
  error: ErrorInfo;
  input: unknown;
  key: string;
  index?: number;
}

export function hasMemberCallbacks(swarm: SignatureRecord): boolean {
  return (swarm.memberSuccessCallbacks?.length ?? 0) + (swarm.memberErrorCallbacks?.length ?? 0) > 0;
}

/**
 * Fires the swarm's per-member callbacks for a member's end. `member`: its record
 * when it is still there (a canceled or vanished member has none: no index, no input).
 */
export async function fireMemberCallbacks(
  rt: Runtime,
  swarm: SignatureRecord,
  memberKey: string,
  member: SignatureRecord | undefined,
  outcome: { ok: true; result: unknown } | { ok: false; error: ErrorInfo },
): Promise<void> {
  const templates = (outcome.ok ? swarm.memberSuccessCallbacks : swarm.memberErrorCallbacks) ?? [];
  if (templates.length === 0) return;
  const index = member?.index === undefined ? {} : { index: member.index };
  const message: MemberSuccessMessage | MemberErrorMessage = outcome.ok
    ? { result: outcome.result ?? null, key: memberKey, ...index }
    : { error: outcome.error, input: (member?.message ? member.message.value : member ? await memberMessage(rt, swarm, memberKey) : null) ?? null, key: memberKey, ...index };
  for (const template of templates) {
    const copy = await copyOf(rt, template, memberKey);
    if (copy) await fire(rt, [copy], message, 'per-member callback');
  }
}

/** The template's copy for this member, made unless it exists; undefined when the template is gone. */
async function copyOf(rt: Runtime, templateKey: string, memberKey: string): Promise<string | undefined> {
  const key = memberCallbackKey(templateKey, memberKey);
  const template = await rt.memberTemplate(templateKey);
  if (!template) {
    rt.log.warn('a member callback of a swarm is gone (deleted or expired); skipped', { key: templateKey });
    return undefined;
  }
  const record: SignatureRecord = {
    key,
    kind: 'task',
    taskName: template.taskName,
    kwargs: template.kwargs,
    successCallbacks: [],
    errorCallbacks: [],
    status: 'pending',
    creationTime: Date.now(),
    ...(template.name !== undefined ? { name: template.name } : {}),
  };
  try {
    await rt.store.createRecords([record], { ttlSec: rt.ttl('task', 'active'), track: true });
  } catch (error) {
    if (!(await rt.store.getRecord(key))) throw error; // not made before: a real failure
  }
  return key;
}

/** The key of the signature a per-member callback fires for a member: the same in every process. */
export function memberCallbackKey(templateKey: string, memberKey: string): string {
  return `task:${derivedUuid(templateKey, memberKey)}`;
}

/** A UUID-shaped name for the pair. */
function derivedUuid(a: string, b: string): string {
  const h = createHash('sha256').update(a).update('\0').update(b).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
