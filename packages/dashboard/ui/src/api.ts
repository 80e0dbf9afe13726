// The dashboard's JSON API and its event stream, as the page uses them.
// The shapes the API sends are the core inspector's own (types only: nothing of the core is
// bundled into the page).
import type { InspectorTreeNode, KeyedLogEntry, Kind, Progress, SignatureDetail, SignatureSummary, Status, StoreEvent, TaskInfo, TimelineEntry } from '@mageflow/core';

export type { Kind, Progress, Status, TaskInfo, TimelineEntry };
export type Summary = SignatureSummary;
export type Detail = SignatureDetail;
export type TreeNode = InspectorTreeNode;
export type LogEntry = KeyedLogEntry;
export type FeedEvent = StoreEvent;
export const STATUSES: Status[] = ['pending', 'active', 'suspended', 'interrupted', 'canceled', 'done', 'failed', 'marked_for_deletion'];
export const KINDS: Kind[] = ['task', 'chain', 'swarm', 'graph'];

export interface Info {
  namespace: string | null;
  readOnly: boolean;
  readOnlyReason: string | null;
  tasks: TaskInfo[];
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path.replace(/^\//, './'), init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body?.error?.code ?? String(response.status), body?.error?.message ?? response.statusText);
  return body as T;
}

const post = <T>(path: string, body: unknown) =>
  call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mageflow-request': '1' }, body: JSON.stringify(body) });

const k = encodeURIComponent;

export interface Filter {
  statuses: Status[];
  kinds: Kind[];
  task: string;
  text: string;
  roots: boolean;
  from: string;
  to: string;
}

export function filterParams(f: Filter): URLSearchParams {
  const p = new URLSearchParams();
  if (f.statuses.length) p.set('status', f.statuses.join(','));
  if (f.kinds.length) p.set('kind', f.kinds.join(','));
  if (f.task) p.set('task', f.task);
  if (f.text) p.set('text', f.text);
  if (f.roots) p.set('roots', '1');
  if (f.from) p.set('from', String(new Date(f.from).getTime()));
  if (f.to) p.set('to', String(new Date(f.to).getTime()));
  return p;
}

export function filterBody(f: Filter) {
  const p = filterParams(f);
  return {
    ...(f.statuses.length ? { statuses: f.statuses } : {}),
    ...(f.kinds.length ? { kinds: f.kinds } : {}),
    ...(f.task ? { taskName: f.task } : {}),
    ...(f.text ? { text: f.text } : {}),
    ...(f.roots ? { roots: true } : {}),
    ...(p.get('from') ? { from: Number(p.get('from')) } : {}),
    ...(p.get('to') ? { to: Number(p.get('to')) } : {}),
  };
}

export const api = {
  info: () => call<Info>('/api/info'),
  list: (f: Filter, cursor?: string) => {
    const p = filterParams(f);
    if (cursor) p.set('cursor', cursor);
    return call<{ items: Summary[]; cursor?: string }>(`/api/signatures?${p}`);
  },
  counts: (f: Filter) => {
    const p = filterParams(f);
    p.delete('status');
    return call<{ counts: Record<Status, number>; complete: boolean }>(`/api/counts?${p}`);
  },
  detail: (key: string) => call<Detail>(`/api/signatures/${k(key)}`),
  tree: (key: string, offset = 0, limit = 20) => call<TreeNode>(`/api/signatures/${k(key)}/tree?offset=${offset}&limit=${limit}`),
  logs: (key: string, tree: boolean) => call<LogEntry[]>(`/api/signatures/${k(key)}/logs?tree=${tree ? 1 : 0}&limit=2000`),
  logsExportUrl: (key: string) => `./api/signatures/${k(key)}/logs?tree=1&format=jsonl`,
  waterfall: (key: string) =>
    call<{ key: string; taskName: string; name?: string; status: Status; createdAt?: number; start?: number; end?: number }[]>(`/api/signatures/${k(key)}/waterfall`),
  act: (action: string, key: string, confirm = false) => post<{ key: string; retriedAs?: string }>(`/api/signatures/${k(key)}/${action}`, { confirm }),
  bulk: (action: string, f: Filter, confirm = false) =>
    post<{ done: string[]; failed: { key: string; message: string }[]; complete: boolean }>(`/api/bulk/${action}`, { filter: filterBody(f), confirm }),
  run: (task: string, input: unknown) => post<{ key: string }>(`/api/tasks/${k(task)}/run`, { input }),
};

/** The change feed: one EventSource for the page; listeners get each event. */
export function openFeed(onEvents: (events: FeedEvent[]) => void, onState: (open: boolean) => void): () => void {
  const source = new EventSource('./api/events');
  source.addEventListener('ready', () => onState(true));
  source.addEventListener('batch', (e) => onEvents(JSON.parse((e as MessageEvent).data) as FeedEvent[]));
  source.onerror = () => onState(false);
  return () => source.close();
}
