/**
 * `mf.tree(key)`: the hierarchical status of a workflow. Every node with its kind,
 * name, status and timings; containers with counts by status (a swarm's from its
 * counters, O(1)) and one page of members, each container among them with a page of
 * its own, down to `depth`. A swarm's members are read a page at a time: the tree of
 * a 10,000-member swarm reads `pageSize` member records, not 10,000.
 */
import { InvalidArgumentError } from '../errors';
import type { SignatureRecord } from '../model/record';
import { checkKnownOptions, checkOptions } from '../arguments';
import { isFinished, type Kind, type Status } from '../model/status';
import type { GraphNodeState } from '../ports/store';
import type { Runtime } from './runtime';
import { describeCondition, type Condition } from './condition';

/** A node's status in the tree: its record's, or `skipped` for a graph node none of whose incoming edges was taken. */
export type TreeStatus = Status | 'skipped';

export interface TreeCounts {
  /** members (a graph's nodes, a chain's steps, a swarm's members ever added). */
  total: number;
  /** not yet queued (a graph's nodes waiting for their incoming edges, a chain's later steps are `queued`). */
  waiting: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  /** a graph's nodes that will never run. */
  skipped: number;
}

export interface TreeNode {
  key: string;
  kind: Kind;
  /** its name: a graph node's name in its graph, else the signature's `name` when it has one. */
  name?: string;
  /** the task a task signature runs. */
  task?: string;
  status: TreeStatus;
  createdAt: number;
  /** when it was last handed to the engine (tasks). */
  dispatchedAt?: number;
  /** when it last ended. */
  endedAt?: number;
  /** its error message, when it failed. */
  error?: string;
  /** containers: counts by status, aggregated from the members. */
  counts?: TreeCounts;
  /** containers: a page of members, in order (a graph's nodes in the order given). */
  members?: TreeNode[];
  /** containers with more members than this page: pass it as `cursor` to `mf.tree(key)` for the next page. */
  cursor?: string;
  /** graphs: the edges, between node names. */
  edges?: { from: string; to: string; label?: string; kind: 'always' | 'when' | 'default' | 'onError' }[];
}

export interface TreeOptions {
  /** members per container. Default 100. */
  pageSize?: number;
  /** where the root's members start (a `cursor` of an earlier call). */
  cursor?: string;
  /** levels of containers to open below the root. Default 5. */
  depth?: number;
}

export async function buildTree(rt: Runtime, key: string, options: TreeOptions = {}): Promise<TreeNode> {
  checkOptions(options, 'mf.tree() options');
  checkKnownOptions(options, ['pageSize', 'cursor', 'depth'], 'mf.tree() options');
  const pageSize = options.pageSize ?? 100;
  const depth = options.depth ?? 5;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new InvalidArgumentError(`pageSize must be a positive integer, got ${String(pageSize)}`);
  if (!Number.isInteger(depth) || depth < 0) throw new InvalidArgumentError(`depth must be a whole number, got ${String(depth)}`);
  const offset = options.cursor === undefined ? 0 : Number(options.cursor);
  if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError(`cursor ${JSON.stringify(options.cursor)} is not one tree() returned`);
  const root = await rt.load(key);
  return describe(rt, root, { pageSize, depth, offset });
}

async function describe(
  rt: Runtime,
  record: SignatureRecord,
  at: { pageSize: number; depth: number; offset: number },
  graphNode?: { name: string; state?: GraphNodeState; graphFinished: boolean },
): Promise<TreeNode> {
  // a node none of whose edges was taken, or one its finished graph never reached, never runs
  const neverRuns = graphNode !== undefined && (graphNode.state?.outcome === 'skipped' || (graphNode.graphFinished && !graphNode.state && record.status === 'pending'));
  const node: TreeNode = { key: record.key, kind: record.kind, status: neverRuns ? 'skipped' : record.status, createdAt: record.creationTime };
  const name = graphNode?.name ?? record.name;
  if (name !== undefined) node.name = name;
  if (record.kind === 'task') node.task = record.taskName;
  if (record.dispatchedAt !== undefined) node.dispatchedAt = record.dispatchedAt;
  if (record.endedAt !== undefined) node.endedAt = record.endedAt;
  if (record.error) node.error = record.error.message;
  if (record.kind === 'task') return node;

  const counts = await rt.store.swarmCounts(record.key);
  const memberCount = record.kind === 'swarm' ? counts.total : (record.members ?? []).length;
  const graphState = record.kind === 'graph' ? await rt.store.graphState(record.key, { nodes: [], edges: [] }) : undefined;
  const skipped = graphState ? Math.max(0, graphState.settled - counts.done - counts.failed) : 0;
  node.counts = {
    total: memberCount,
    waiting: Math.max(0, memberCount - counts.total - skipped),
    queued: counts.queued,
    running: counts.running,
    done: counts.done,
    failed: counts.failed,
    skipped,
  };
  if (record.kind === 'graph' && record.graph) {
    const names = record.graph.nodes;
    node.edges = record.graph.edges.map((e) => ({
      from: names[e.from]!,
      to: names[e.to]!,
      kind: e.onError ? 'onError' : e.default ? 'default' : e.when !== undefined ? 'when' : 'always',
      ...(e.when !== undefined ? { label: describeCondition(e.when as Condition) } : {}),
    }));
  }
  if (at.depth === 0) return node;

  const keys = record.kind === 'swarm' ? await rt.store.swarmMembers(record.key, { offset: at.offset, limit: at.pageSize }) : (record.members ?? []).slice(at.offset, at.offset + at.pageSize);
  if (at.offset + keys.length < memberCount) node.cursor = String(at.offset + keys.length);
  const records = await rt.store.getRecords(keys);
  const states = record.kind === 'graph' ? (await rt.store.graphState(record.key, { nodes: keys, edges: [] })).nodes : {};
  const inner = { pageSize: at.pageSize, depth: at.depth - 1, offset: 0 };
  node.members = [];
  for (const [i, member] of records.entries()) {
    if (!member) continue; // gone (expired or canceled)
    const position = at.offset + i;
    const asNode = record.kind === 'graph' ? { name: record.graph!.nodes[position]!, state: states[keys[i]!], graphFinished: isFinished(record.status) } : undefined;
    node.members.push(await describe(rt, member, inner, asNode));
  }
  return node;
}

