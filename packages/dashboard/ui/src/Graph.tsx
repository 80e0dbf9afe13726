// A workflow as an interactive graph: its tree laid out left to right by dagre. A chain's
// members follow one another, a swarm fans out to its members, callbacks hang off dashed
// edges. A big swarm is one group node with its counts; its members are listed, paged, in
// the side panel.
import dagre from '@dagrejs/dagre';
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, type Edge, type Node, type NodeProps } from '@xyflow/react';
import { useMemo } from 'react';
import type { Progress, Status, TreeNode } from './api';
import { ProgressBar } from './Progress';

/** A swarm with more members than this is drawn as one group node. */
export const GROUP_OVER = 12;

export const STATUS_COLORS: Record<Status, string> = {
  pending: '#9aa4b2',
  active: '#2f7df6',
  suspended: '#e2a400',
  interrupted: '#e07b00',
  canceled: '#6b7280',
  done: '#1f9d55',
  failed: '#d64545',
  marked_for_deletion: '#8b5cf6',
};

interface SigData extends Record<string, unknown> {
  node: TreeNode;
  group: boolean;
  selected: boolean;
  onSelect: (key: string) => void;
}

function SignatureNode({ data }: NodeProps<Node<SigData>>) {
  const { node, group, selected, onSelect } = data;
  const color = STATUS_COLORS[node.status];
  return (
    <div
      className={`sig-node kind-${node.kind}${group ? ' group' : ''}${selected ? ' selected' : ''}`}
      data-key={node.key}
      data-status={node.status}
      data-kind={node.kind}
      style={{ borderColor: color }}
      onClick={() => onSelect(node.key)}
    >
      <Handle type="target" position={Position.Left} />
      <div className="sig-node-head">
        <span className="kind">{group ? `swarm of ${node.members?.total ?? 0}` : node.kind}</span>
        <span className="status-badge" style={{ background: color }}>
          {node.status}
        </span>
      </div>
      <div className="sig-node-name" title={node.key}>
        {node.name ?? node.taskName}
      </div>
      {node.progress && <ProgressBar progress={node.progress} compact />}
      {group && node.progress && <Counts progress={node.progress} />}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

function Counts({ progress }: { progress: Progress }) {
  return (
    <div className="group-counts">
      <span>{progress.done} done</span> · <span>{progress.running} running</span> · <span>{progress.queued} queued</span>
      {progress.failed > 0 && <span className="failed"> · {progress.failed} failed</span>}
    </div>
  );
}

const nodeTypes = { sig: SignatureNode };
const WIDTH = 210;
const HEIGHT = 78;

export function layoutTree(tree: TreeNode, selected: string | undefined, onSelect: (key: string) => void): { nodes: Node<SigData>[]; edges: Edge[] } {
  const nodes: Node<SigData>[] = [];
  const edges: Edge[] = [];
  const seen = new Set<string>();
  const edge = (from: string, to: string, kind: 'member' | 'next' | 'success' | 'error' | 'cleanup', color?: string) =>
    edges.push({
      id: `${from}->${to}:${kind}`,
      source: from,
      target: to,
      animated: kind === 'member' || kind === 'next' ? false : false,
      label: kind === 'success' ? 'on success' : kind === 'error' ? 'on error' : kind === 'cleanup' ? 'cleanup' : undefined,
      className: `edge-${kind}`,
      style: { stroke: color ?? '#94a3b8', strokeDasharray: kind === 'member' || kind === 'next' ? undefined : '5 4' },
    });

  const visit = (node: TreeNode) => {
    if (seen.has(node.key)) return;
    seen.add(node.key);
    const group = node.kind === 'swarm' && (node.members?.total ?? 0) > GROUP_OVER;
    nodes.push({ id: node.key, type: 'sig', position: { x: 0, y: 0 }, data: { node, group, selected: node.key === selected, onSelect } });
    if (node.kind === 'chain') {
      node.children.forEach((child, i) => {
        visit(child);
        edge(i === 0 ? node.key : node.children[i - 1]!.key, child.key, i === 0 ? 'member' : 'next');
      });
    } else if (node.kind === 'graph') {
      // entry nodes hang from the graph; the others from the nodes whose edges lead to them
      const reached = new Set((node.edges ?? []).map((e) => e.to));
      for (const child of node.children) {
        visit(child);
        if (!reached.has(child.key)) edge(node.key, child.key, 'member');
      }
      for (const e of node.edges ?? []) edge(e.from, e.to, e.kind === 'onError' ? 'error' : 'next', e.kind === 'onError' ? STATUS_COLORS.failed : undefined);
    } else if (node.kind === 'swarm' && !group) {
      for (const child of node.children) {
        visit(child);
        edge(node.key, child.key, 'member');
      }
    }
    for (const [kind, list] of [['success', node.callbacks.success], ['error', node.callbacks.error], ['cleanup', node.callbacks.cleanup]] as const) {
      for (const cb of list) {
        visit(cb);
        edge(node.key, cb.key, kind, kind === 'success' ? STATUS_COLORS.done : kind === 'error' ? STATUS_COLORS.failed : undefined);
      }
    }
  };
  visit(tree);

  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: WIDTH, height: HEIGHT });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  for (const n of nodes) {
    const p = g.node(n.id);
    n.position = { x: p.x - WIDTH / 2, y: p.y - HEIGHT / 2 };
  }
  return { nodes, edges };
}

export function Graph({ tree, selected, onSelect }: { tree: TreeNode; selected?: string; onSelect: (key: string) => void }) {
  const { nodes, edges } = useMemo(() => layoutTree(tree, selected, onSelect), [tree, selected, onSelect]);
  // a new shape (another workflow, nodes added) is fitted to the view again; status changes keep the user's zoom
  const shape = `${tree.key}:${nodes.length}`;
  return (
    <div className="graph" data-testid="graph">
      <ReactFlow key={shape} nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={{ padding: 0.12, maxZoom: 1.2 }} minZoom={0.1} nodesDraggable={false} proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
        {nodes.length > 12 && <MiniMap pannable zoomable nodeColor={(n) => STATUS_COLORS[(n.data as SigData).node.status]} />}
      </ReactFlow>
    </div>
  );
}
