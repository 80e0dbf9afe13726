/**
 * Mermaid diagrams (https://mermaid.js.org) of a graph's shape and of a status
 * tree, for a README, a dashboard or a terminal.
 */
import type { TreeNode, TreeStatus } from './runtime/status-tree';

export interface MermaidEdge {
  from: string;
  to: string;
  label?: string;
  kind: 'always' | 'when' | 'default' | 'onError';
}

/** A graph's shape: a node per name, an edge per edge; conditions as labels, default and onError edges dotted. */
export function graphMermaid(nodes: readonly { name: string; label: string }[], edges: readonly MermaidEdge[]): string {
  const lines = ['flowchart TD'];
  const ids = new Map(nodes.map((node, i) => [node.name, safeId(node.name) ? node.name : `n${i}`]));
  const id = (name: string) => ids.get(name) ?? name;
  for (const node of nodes) lines.push(`  ${id(node.name)}["${escape(node.label)}"]`);
  for (const edge of edges) lines.push(`  ${id(edge.from)} ${arrow(edge)} ${id(edge.to)}`);
  return lines.join('\n');
}

/** Words Mermaid reads as syntax in a flowchart, which a node id must not be. */
const RESERVED = new Set(['end', 'graph', 'flowchart', 'subgraph', 'direction', 'style', 'class', 'classdef', 'click', 'call', 'href', 'linkstyle', 'default', 'interpolate']);

/** A node name usable as its own Mermaid id (readable diagrams); others get a generated one. */
function safeId(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name) && !RESERVED.has(name.toLowerCase());
}

function arrow(edge: MermaidEdge): string {
  const label = edge.kind === 'default' ? 'default' : edge.kind === 'onError' ? 'on error' : edge.label;
  const line = edge.kind === 'default' || edge.kind === 'onError' ? '-.->' : '-->';
  return label ? `${line}|"${escape(label)}"|` : line;
}

/**
 * A status tree: each container a subgraph (a chain's members linked in order, a
 * graph's by its edges), each node labelled with its name and status and coloured by it.
 */
export function treeMermaid(tree: TreeNode): string {
  const lines = ['flowchart TD'];
  const ids = new Map<string, string>();
  const id = (key: string) => ids.get(key) ?? (ids.set(key, `n${ids.size}`), ids.get(key)!);
  const used = new Set<TreeStatus>();
  const walk = (node: TreeNode, indent: string) => {
    used.add(node.status);
    const label = `${escape(node.name ?? node.task ?? node.kind)}<br/>${escape(`${node.kind} · ${node.status}${countsText(node)}`)}`;
    if (!node.members) {
      lines.push(`${indent}${id(node.key)}["${label}"]:::${node.status}`);
      return;
    }
    lines.push(`${indent}subgraph ${id(node.key)}["${label}"]`);
    for (const member of node.members) walk(member, `${indent}  `);
    if (node.cursor !== undefined) lines.push(`${indent}  ${id(node.key)}_more["… ${node.counts!.total - Number(node.cursor)} more"]`);
    lines.push(`${indent}end`);
    if (node.kind === 'chain') {
      for (let i = 1; i < node.members.length; i++) lines.push(`${indent}${id(node.members[i - 1]!.key)} --> ${id(node.members[i]!.key)}`);
    }
    if (node.kind === 'graph' && node.edges) {
      const byName = new Map(node.members.map((m) => [m.name, m.key]));
      for (const edge of node.edges) {
        const from = byName.get(edge.from);
        const to = byName.get(edge.to);
        if (from && to) lines.push(`${indent}${id(from)} ${arrow(edge)} ${id(to)}`);
      }
    }
  };
  walk(tree, '  ');
  for (const status of used) lines.push(`  classDef ${status} ${STYLE[status]}`);
  return lines.join('\n');
}

function countsText(node: TreeNode): string {
  const c = node.counts;
  if (!c) return '';
  const parts = [`${c.done}/${c.total} done`];
  if (c.running) parts.push(`${c.running} running`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  return `<br/>${parts.join(', ')}`;
}

const STYLE: Record<TreeStatus, string> = {
  pending: 'fill:#eee,stroke:#999',
  active: 'fill:#cde4ff,stroke:#36c',
  suspended: 'fill:#fff3c4,stroke:#c90',
  interrupted: 'fill:#ffe0b2,stroke:#e65100',
  canceled: 'fill:#ddd,stroke:#666',
  done: 'fill:#d4f7d4,stroke:#2a2',
  failed: 'fill:#ffd6d6,stroke:#c22',
  marked_for_deletion: 'fill:#eee,stroke:#999,stroke-dasharray:3',
  skipped: 'fill:#fafafa,stroke:#bbb,stroke-dasharray:3',
};

/** Mermaid labels are quoted: quotes become their entity. */
/** Label text: a quote would end the label, a tag or a line break would format it ("risk < 0.5" stays as it is). */
function escape(text: string): string {
  return text.replace(/"/g, '#quot;').replace(/<(?=[A-Za-z/!])/g, '#lt;').replace(/[\r\n]+/g, ' ');
}
