/**
 * A signature's tree as views draw it: members (a chain's in order, a swarm's a page at a
 * time) and callbacks, nested, each with its status and, for containers, its progress.
 *
 * The seam for the status tree of graph signatures (`mf.tree(key)`): once core has it,
 * `buildTree` is the one function to base on it; its output shape stays.
 */
import type { SignatureRecord } from '../model/record';
import type { Kind, Status } from '../model/status';
import type { Store, SwarmCounts, TimelineEntry } from '../ports/store';
import type { Progress } from './progress';

export interface TreeNode {
  key: string;
  kind: Kind;
  taskName: string;
  name?: string;
  status: Status;
  /** chains and swarms. */
  progress?: Progress;
  /** members, in order (a swarm's: the page asked for, see `members`). */
  children: TreeNode[];
  /** on a swarm: which members `children` holds. */
  members?: { total: number; offset: number; shown: number };
  callbacks: { success: TreeNode[]; error: TreeNode[]; cleanup: TreeNode[] };
  /** a key listed by its parent whose record is gone (expired or deleted). */
  missing?: boolean;
  /** on a graph: its edges, between member keys. */
  edges?: { from: string; to: string; kind: 'always' | 'when' | 'default' | 'onError' }[];
}

export interface TreeOptions {
  /** members of the top swarm to skip (its member list is paged). Default 0. */
  memberOffset?: number;
  /** most members shown per swarm. Default 20. */
  memberLimit?: number;
  /** how deep to follow members and callbacks. Default 6. */
  depth?: number;
}

type ProgressOf = (record: SignatureRecord, timeline?: TimelineEntry[], counts?: SwarmCounts) => Promise<Progress>;

export async function buildTree(store: Store, root: SignatureRecord, options: TreeOptions, progressOf: ProgressOf): Promise<TreeNode> {
  const limit = options.memberLimit ?? 20;
  const seen = new Set<string>();

  async function nodes(keys: readonly string[], depth: number): Promise<TreeNode[]> {
    if (keys.length === 0) return [];
    const records = await store.getRecords(keys);
    return Promise.all(records.map((r, i) => (r ? node(r, depth, 0) : Promise.resolve(missing(keys[i]!)))));
  }

  async function node(record: SignatureRecord, depth: number, offset: number): Promise<TreeNode> {
    const out: TreeNode = { key: record.key, kind: record.kind, taskName: record.taskName, status: record.status, children: [], callbacks: { success: [], error: [], cleanup: [] } };
    if (record.name !== undefined) out.name = record.name;
    if (seen.has(record.key) || depth <= 0) return out;
    seen.add(record.key);
    if (record.kind === 'chain' || record.kind === 'graph') {
      out.children = await nodes(record.members ?? [], depth - 1);
      const members = record.members ?? [];
      if (record.graph) {
        out.edges = record.graph.edges.map((e) => ({ from: members[e.from]!, to: members[e.to]!, kind: e.onError ? 'onError' : e.default ? 'default' : e.when !== undefined ? 'when' : 'always' }));
      }
    } else if (record.kind === 'swarm') {
      // one page of members read, never the whole list (a swarm may have a million)
      const [counts, page] = await Promise.all([store.swarmCounts(record.key), store.swarmMembers(record.key, { offset, limit })]);
      out.members = { total: counts.total, offset, shown: page.length };
      out.children = await nodes(page, depth - 1);
    }
    if (record.kind !== 'task') out.progress = await progressOf(record);
    out.callbacks = {
      success: await nodes(record.successCallbacks, depth - 1),
      error: await nodes(record.errorCallbacks, depth - 1),
      cleanup: await nodes(record.cleanupCallbacks ?? [], depth - 1),
    };
    return out;
  }

  return node(root, options.depth ?? 6, options.memberOffset ?? 0);
}

function missing(key: string): TreeNode {
  return { key, kind: 'task', taskName: '', status: 'canceled', children: [], callbacks: { success: [], error: [], cleanup: [] }, missing: true };
}
