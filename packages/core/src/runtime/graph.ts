/**
 * Graphs: named nodes (any signature) and edges between them, routed on the
 * nodes' outputs. A graph runs on the container machinery (`container.ts`): its
 * entry nodes are queued when it is made, and a node that becomes ready is queued
 * by the store step that settles its last incoming edge, so slots, claims,
 * lifecycle and recovery are those of a swarm.
 *
 * When a node ends, the worker that ran it evaluates the conditions of the node's
 * outgoing edges (they are data: see `condition.ts`), then one store step
 * (`Store.graphSettle`, O(out-degree)) records the node's outcome and its edges and
 * hands back the targets that became ready (queued, and given slots in the same
 * step) and those to skip (all incoming edges skipped). Skipping propagates by
 * further steps, each listed in the graph's state until it is taken, so a crash
 * between two steps leaves work the sweep finds: a node that ended holds its slot
 * until it is settled, a pending skip is listed, a ready node is queued.
 *
 * The graph ends when every node is settled: failed if a node failed and no
 * `onError` edge left it, done otherwise, with the outputs of the nodes that ran
 * and took no outgoing edge, by name.
 */
import { describeError, type ErrorInfo } from '../errors';
import type { GraphSpec, SignatureRecord } from '../model/record';
import { decodeValue } from '../model/values';
import type { GraphSettleResult, GraphSettleStep } from '../ports/store';
import { evaluateCondition, type Condition } from './condition';
import { claimOptions, goneError, sendClaimed, type MemberOutcome } from './container';
import { containerMessage } from './message';
import type { Runtime } from './runtime';
import { expireTree, settle, type ErrorCallbackMessage } from './settle';

/** A graph's edges by node position, and each node's position by member key; made once per record read. */
interface Shape {
  index: Map<string, number>;
  outgoing: number[][];
  incoming: number[][];
}

const shapes = new WeakMap<SignatureRecord, Shape>();

export function shapeOf(graph: SignatureRecord): Shape {
  const known = shapes.get(graph);
  if (known) return known;
  const spec = specOf(graph);
  const members = graph.members ?? [];
  const shape: Shape = {
    index: new Map(members.map((key, i) => [key, i])),
    outgoing: spec.nodes.map(() => []),
    incoming: spec.nodes.map(() => []),
  };
  spec.edges.forEach((edge, i) => {
    shape.outgoing[edge.from]?.push(i);
    shape.incoming[edge.to]?.push(i);
  });
  shapes.set(graph, shape);
  return shape;
}

function specOf(graph: SignatureRecord): GraphSpec {
  return graph.graph ?? { nodes: [], edges: [], maxConcurrency: 1 };
}

/** A node's end, heard by its graph: route, settle, start what became ready, skip what cannot run, end the graph when all are settled. */
export async function onNodeEnd(rt: Runtime, graph: SignatureRecord, member: string, outcome: MemberOutcome): Promise<void> {
  const shape = shapeOf(graph);
  const at = shape.index.get(member);
  if (at === undefined) return; // not one of its nodes
  const spec = specOf(graph);
  const outgoing = shape.outgoing[at]!;
  let failure: ErrorInfo | undefined;
  let taken: boolean[];
  try {
    taken = await routes(rt, spec, outgoing, outcome);
  } catch (error) {
    // a condition that cannot be evaluated (unknown, or it threw) fails the graph: no silent skip
    failure = describeError(error, 1);
    taken = outgoing.map(() => false);
  }
  if (!outcome.ok && !outgoing.some((e) => spec.edges[e]!.onError)) failure = outcome.error;
  // The graph fails before the node is settled: a crash between leaves a failed graph to settle, not a lost failure.
  if (failure) await failGraph(rt, graph, failure);
  const step: GraphSettleStep = {
    outcome: outcome.ok ? { ok: true, result: outcome.result ?? null } : { ok: false },
    edges: edgesOf(graph, shape, outgoing, taken),
  };
  await afterSettle(rt, graph, await rt.store.graphSettle(graph.key, member, step, claimOptions(rt, graph, true)));
}

/** Which of a node's outgoing edges are taken, given how it ended. */
async function routes(rt: Runtime, spec: GraphSpec, outgoing: readonly number[], outcome: MemberOutcome): Promise<boolean[]> {
  if (!outcome.ok) return outgoing.map((e) => spec.edges[e]!.onError === true);
  const output = decodeValue(outcome.result);
  let matched = false;
  const taken: boolean[] = [];
  for (const e of outgoing) {
    const edge = spec.edges[e]!;
    if (edge.onError || edge.default) taken.push(false);
    else if (edge.when === undefined) taken.push(true);
    else {
      const holds = await evaluateCondition(edge.when as Condition, output, rt.registry.conditions);
      matched ||= holds;
      taken.push(holds);
    }
  }
  // a default edge is taken when no conditioned edge of its node matched
  outgoing.forEach((e, i) => {
    if (spec.edges[e]!.default) taken[i] = !matched;
  });
  return taken;
}

function edgesOf(graph: SignatureRecord, shape: Shape, outgoing: readonly number[], taken: readonly boolean[]): GraphSettleStep['edges'] {
  const spec = specOf(graph);
  return outgoing.map((e, i) => {
    const to = spec.edges[e]!.to;
    return { edge: e, target: graph.members![to]!, incoming: shape.incoming[to]!.length, taken: taken[i]! };
  });
}

/** What follows a settlement: ready nodes given slots are started, skipped ones settled, the end checked. */
async function afterSettle(rt: Runtime, graph: SignatureRecord, settled: GraphSettleResult): Promise<void> {
  await sendClaimed(rt, graph, settled.claimed);
  let count = settled.settled;
  for (const node of settled.skip) count = Math.max(count, await settleSkipped(rt, graph, node));
  await checkGraphEnd(rt, graph, count);
}

/** Settles a node that will never run (every incoming edge skipped): all its outgoing edges are skipped too. Returns the nodes settled so far. */
export async function settleSkipped(rt: Runtime, graph: SignatureRecord, node: string): Promise<number> {
  const shape = shapeOf(graph);
  const at = shape.index.get(node);
  if (at === undefined) return 0;
  const outgoing = shape.outgoing[at]!;
  const step: GraphSettleStep = { outcome: { skipped: true }, edges: edgesOf(graph, shape, outgoing, outgoing.map(() => false)) };
  const settled = await rt.store.graphSettle(graph.key, node, step, claimOptions(rt, graph));
  if (settled.counted) await expireTree(rt, [node]); // it never runs: it lives the done TTL
  await sendClaimed(rt, graph, settled.claimed);
  let count = settled.settled;
  for (const next of settled.skip) count = Math.max(count, await settleSkipped(rt, graph, next));
  return count;
}

/** Settles the skips a crash left pending (the sweep). */
export async function settlePendingSkips(rt: Runtime, graph: SignatureRecord): Promise<void> {
  const { skipPending } = await rt.store.graphState(graph.key);
  for (const node of skipPending) await settleSkipped(rt, graph, node);
}

async function failGraph(rt: Runtime, graph: SignatureRecord, error: ErrorInfo): Promise<void> {
  const ended = await rt.apply(graph.key, 'fail', { caller: 'runtime', set: () => ({ error }) });
  if (!ended.changed) return;
  // nodes queued but not started, and those never reached, never run: they live the done TTL
  const queued = await rt.store.swarmDrainQueue(graph.key);
  const { nodes } = await rt.store.graphState(graph.key);
  const running = new Set((await rt.store.swarmRunning(graph.key)).map((slot) => slot.member));
  const unreached = (graph.members ?? []).filter((key) => !nodes[key] && !running.has(key) && !queued.includes(key));
  await expireTree(rt, [...queued, ...unreached]);
  await settle(rt, ended.record);
}

/**
 * Ends the graph once every node is settled. `settled`: the count a step just
 * returned (read when not given). Reads the whole graph state once, at its end.
 */
export async function checkGraphEnd(rt: Runtime, graph: SignatureRecord, settled?: number): Promise<void> {
  const spec = specOf(graph);
  const count = settled ?? (await rt.store.graphState(graph.key, { nodes: [], edges: [] })).settled;
  if (count < spec.nodes.length) return;
  const current = await rt.store.getRecord(graph.key);
  if (!current) return;
  if (current.status !== 'active') {
    if (current.status === 'done' || current.status === 'failed') await settle(rt, current); // a crash cut it short
    return;
  }
  const state = await rt.store.graphState(graph.key);
  const members = graph.members ?? [];
  // a failure no onError edge handled (its graph was failed when it happened, unless it was paused then)
  const unhandled = members.find((key) => state.nodes[key]?.outcome === 'failed' && !state.nodes[key]!.taken);
  if (unhandled !== undefined) {
    const node = await rt.store.getRecord(unhandled);
    return failGraph(rt, current, node?.error ?? goneError(unhandled));
  }
  const result: Record<string, unknown> = {};
  members.forEach((key, i) => {
    const node = state.nodes[key];
    if (node?.outcome === 'done' && !node.taken) result[spec.nodes[i]!] = node.result ?? null;
  });
  const ended = await rt.apply(current.key, 'succeed', { caller: 'runtime', known: current, set: () => ({ result: { value: result } }) });
  if (ended.changed) await settle(rt, ended.record);
}

/**
 * The message a node is sent: the graph's message for an entry node; for a node with
 * one incoming edge, what that edge carries; with several, a map of what the taken
 * ones carry by source node name. An edge carries its source's output, or for an
 * `onError` edge the error message error callbacks get (`{ error, input, key }`).
 * O(in-degree) reads.
 */
export async function nodeMessage(rt: Runtime, graph: SignatureRecord, member: string): Promise<unknown> {
  const shape = shapeOf(graph);
  const at = shape.index.get(member);
  const incoming = at === undefined ? [] : shape.incoming[at]!;
  if (incoming.length === 0) return containerMessage(graph);
  const spec = specOf(graph);
  const members = graph.members!;
  const parents = incoming.map((e) => members[spec.edges[e]!.from]!);
  const state = await rt.store.graphState(graph.key, { nodes: parents, edges: incoming });
  const carried = async (e: number): Promise<unknown> => {
    const parent = members[spec.edges[e]!.from]!;
    if (!spec.edges[e]!.onError) return state.nodes[parent]?.result ?? null;
    const record = await rt.store.getRecord(parent);
    const message: ErrorCallbackMessage = { error: record?.error ?? goneError(parent), input: record?.message?.value ?? null, key: parent };
    return message;
  };
  if (incoming.length === 1) return carried(incoming[0]!);
  const out: Record<string, unknown> = {};
  for (const e of incoming) if (state.edges[e] === 'taken') out[spec.nodes[spec.edges[e]!.from]!] = await carried(e);
  return out;
}
