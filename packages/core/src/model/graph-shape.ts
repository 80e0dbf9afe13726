/**
 * A graph's shape as the user gives it (nodes by name, edges between names),
 * checked and turned into what the record keeps (`GraphSpec`: positions). Pure:
 * every refusal is an `InvalidGraphError` raised before anything is stored.
 */
import { InvalidGraphError } from '../errors';
import { checkCondition, type Condition } from '../runtime/condition';
import type { GraphEdge } from './record';

/** An edge between two nodes, by name. */
export interface GraphEdgeInput {
  from: string;
  to: string;
  /** taken when the source's output meets it (see `Condition`); without `when`, `default` or `onError`, always taken when the source succeeds. */
  when?: Condition;
  /** taken when no conditioned edge of the source matched (at most one per node). */
  default?: boolean;
  /** taken only when the source failed; the target receives `{ error, input, key }`. */
  onError?: boolean;
}

/** Node names: letters, digits, `_` and `-` (they are keys of the result map and ids in diagrams). */
const NAME = /^[A-Za-z][\w-]{0,63}$/;

/**
 * Checks a graph: known node names, no two default edges from one node, no cycle,
 * every node reachable from the entry nodes. `entry`: the nodes that start (default:
 * every node without an incoming edge). Returns the edges by position and the entry
 * positions.
 */
export function checkGraphShape(names: readonly string[], edges: readonly GraphEdgeInput[], entry?: readonly string[]): { edges: GraphEdge[]; entries: number[] } {
  if (names.length === 0) throw new InvalidGraphError('a graph needs at least one node');
  for (const name of names) {
    if (!NAME.test(name)) throw new InvalidGraphError(`node name ${JSON.stringify(name)} must start with a letter and hold only letters, digits, "_" or "-" (64 at most)`, { details: { node: name } });
  }
  const position = new Map(names.map((name, i) => [name, i]));
  const at = (name: unknown, where: string): number => {
    const i = typeof name === 'string' ? position.get(name) : undefined;
    if (i === undefined) throw new InvalidGraphError(`${where} names an unknown node ${JSON.stringify(name)} (nodes: ${names.join(', ')})`, { details: { node: name } });
    return i;
  };
  if (!Array.isArray(edges)) throw new InvalidGraphError('a graph\'s edges must be a list');
  const out: GraphEdge[] = edges.map((edge, i) => {
    const where = `edge ${i}`;
    if (typeof edge !== 'object' || edge === null) throw new InvalidGraphError(`${where} must be an object { from, to, ... }`);
    const unknown = Object.keys(edge).filter((k) => !['from', 'to', 'when', 'default', 'onError'].includes(k));
    if (unknown.length > 0) throw new InvalidGraphError(`${where} has an unknown field "${unknown[0]}"`);
    const kinds = [edge.when !== undefined, edge.default === true, edge.onError === true].filter(Boolean).length;
    if (kinds > 1) throw new InvalidGraphError(`${where} (${edge.from} -> ${edge.to}): "when", "default" and "onError" exclude each other`);
    for (const flag of ['default', 'onError'] as const) {
      if (edge[flag] !== undefined && typeof edge[flag] !== 'boolean') throw new InvalidGraphError(`${where}: "${flag}" takes true or false`);
    }
    const from = at(edge.from, `${where} "from"`);
    const to = at(edge.to, `${where} "to"`);
    if (edge.when !== undefined) checkCondition(edge.when, `${where} (${edge.from} -> ${edge.to}) "when"`);
    return { from, to, ...(edge.when !== undefined ? { when: edge.when } : {}), ...(edge.default ? { default: true } : {}), ...(edge.onError ? { onError: true } : {}) };
  });
  const defaults = new Set<number>();
  for (const edge of out) {
    if (!edge.default) continue;
    if (defaults.has(edge.from)) throw new InvalidGraphError(`node "${names[edge.from]}" has two default edges`, { details: { node: names[edge.from] } });
    defaults.add(edge.from);
  }
  const cycle = findCycle(names.length, out);
  if (cycle) {
    const shown = cycle.length > 20 ? [...cycle.slice(0, 19).map((i) => names[i]), `… (${cycle.length - 20} more)`, names[cycle.at(-1)!]] : cycle.map((i) => names[i]);
    throw new InvalidGraphError(`the graph has a cycle: ${shown.join(' -> ')} (loops are not supported)`, { details: { cycle: cycle.slice(0, 100).map((i) => names[i]) } });
  }

  const hasIncoming = new Set(out.map((e) => e.to));
  const entries = entry === undefined ? names.map((_, i) => i).filter((i) => !hasIncoming.has(i)) : entry.map((name) => at(name, 'entry'));
  for (const i of entries) if (hasIncoming.has(i)) throw new InvalidGraphError(`entry node "${names[i]}" has incoming edges`, { details: { node: names[i] } });
  const next: number[][] = names.map(() => []);
  for (const edge of out) next[edge.from]!.push(edge.to);
  const reached = new Set(entries);
  const frontier = [...entries];
  while (frontier.length > 0) {
    for (const to of next[frontier.pop()!]!) if (!reached.has(to)) (reached.add(to), frontier.push(to));
  }
  const unreachable = names.filter((_, i) => !reached.has(i));
  if (unreachable.length > 0) {
    throw new InvalidGraphError(`node${unreachable.length > 1 ? 's' : ''} ${unreachable.map((n) => `"${n}"`).join(', ')} cannot be reached from the entry (${entries.map((i) => names[i]).join(', ')})`, {
      details: { unreachable },
    });
  }
  return { edges: out, entries };
}

/** A cycle as a list of positions (first repeated last), or undefined. Iterative: a long line of nodes cannot overflow the stack. */
function findCycle(count: number, edges: readonly GraphEdge[]): number[] | undefined {
  const next: number[][] = Array.from({ length: count }, () => []);
  for (const edge of edges) next[edge.from]!.push(edge.to);
  const state = new Array<0 | 1 | 2>(count).fill(0); // unvisited, on the path, done
  for (let root = 0; root < count; root++) {
    if (state[root] !== 0) continue;
    // the path from root, each with the index of the next edge to follow
    const path: number[] = [root];
    const cursor: number[] = [0];
    state[root] = 1;
    while (path.length > 0) {
      const i = path[path.length - 1]!;
      const j = next[i]![cursor[cursor.length - 1]!++];
      if (j === undefined) {
        state[i] = 2;
        path.pop();
        cursor.pop();
      } else if (state[j] === 1) {
        return [...path.slice(path.indexOf(j)), j];
      } else if (state[j] === 0) {
        state[j] = 1;
        path.push(j);
        cursor.push(0);
      }
    }
  }
  return undefined;
}
