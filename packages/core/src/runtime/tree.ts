/**
 * A signature's tree: itself, its members (chains, swarms and graphs), and its callbacks,
 * all the way down. Cancel deletes it; remove and finished branches expire it.
 */
import type { SignatureRecord } from '../model/record';
import { KINDS, type Kind } from '../model/status';
import type { Runtime } from './runtime';

export interface Tree {
  records: SignatureRecord[];
  keys: string[];
  byKind: Map<Kind, string[]>;
}

/**
 * `callbacks` (default true): follow success, error and per-member callbacks. `cleanups`
 * (default false): follow cleanup signatures too; a cancel leaves them out, as they
 * outlive what they clean up, but a branch that will never run takes its cleanups along.
 */
export async function collectTree(rt: Runtime, roots: readonly string[], options: { callbacks?: boolean; cleanups?: boolean } = {}): Promise<Tree> {
  const seen = new Set<string>();
  const records: SignatureRecord[] = [];
  let frontier = [...roots];
  while (frontier.length > 0) {
    const batch = frontier.filter((key) => !seen.has(key));
    frontier = [];
    batch.forEach((key) => seen.add(key));
    for (const record of await rt.store.getRecords(batch)) {
      if (!record) continue;
      records.push(record);
      if (options.callbacks !== false) frontier.push(...record.successCallbacks, ...record.errorCallbacks, ...memberCallbacksOf(record));
      if (options.cleanups) frontier.push(...(record.cleanupCallbacks ?? []));
      frontier.push(...(await membersOf(rt, record)));
    }
  }
  const byKind = new Map<Kind, string[]>(KINDS.map((kind) => [kind, []]));
  for (const record of records) byKind.get(record.kind)!.push(record.key);
  return { records, keys: [...seen], byKind };
}

/** A container's members in order: a chain and a graph list them in their record, a swarm's are in the store. */
export async function membersOf(rt: Runtime, record: SignatureRecord): Promise<readonly string[]> {
  if (record.kind === 'chain' || record.kind === 'graph') return record.members ?? [];
  if (record.kind === 'swarm') return rt.store.swarmMembers(record.key);
  return [];
}

/** A swarm's per-member callback templates. */
export function memberCallbacksOf(record: SignatureRecord): string[] {
  return [...(record.memberSuccessCallbacks ?? []), ...(record.memberErrorCallbacks ?? [])];
}
