/**
 * What the CLI (and the MCP server) read and do, from either of two places:
 *
 * - a running dashboard (`serveDashboard(mf)` in a worker process), through its HTTP API:
 *   everything, control included, since that process has the engine and the tasks;
 * - a store directly (`Inspector` over e.g. a RedisStore): reading and following only,
 *   as this process has no worker to act through.
 */
import {
  MageflowError,
  type Action,
  type BulkResult,
  type Inspector,
  type KeyedLogEntry,
  type ListQuery,
  type LogQuery,
  type SignatureDetail,
  type SignatureSummary,
  type StatusCounts,
  type StoreEvent,
  type TaskInfo,
  type TimelineEntry,
  type InspectorTreeNode as TreeNode,
  type InspectorTreeOptions as TreeOptions,
} from '@mageflow/core';

export interface InspectionClient {
  /** where it reads from, for messages. */
  readonly where: string;
  list(query: ListQuery): Promise<{ items: SignatureSummary[]; cursor?: string }>;
  counts(query: ListQuery): Promise<StatusCounts>;
  get(key: string): Promise<SignatureDetail | null>;
  tree(key: string, options?: TreeOptions): Promise<TreeNode>;
  timeline(key: string): Promise<TimelineEntry[]>;
  logs(key: string, query?: LogQuery & { tree?: boolean }): Promise<KeyedLogEntry[]>;
  tasks(): Promise<TaskInfo[]>;
  act(action: Action, key: string, options?: { confirm?: boolean }): Promise<{ key: string; retriedAs?: string }>;
  bulk(action: Action, query: ListQuery, options?: { confirm?: boolean; max?: number }): Promise<BulkResult>;
  start(task: string, input: unknown): Promise<string>;
  /** calls `listener` with each change until the returned function is called. */
  follow(listener: (event: StoreEvent) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A client error with the code the API gave (SIGNATURE_NOT_FOUND, READ_ONLY, ...). */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The inspection API of this process (or of a store this process opened). */
export function localClient(inspector: Inspector, options: { readOnly?: string; close?: () => Promise<void> } = {}): InspectionClient {
  const refuse = async (): Promise<never> => {
    throw new ClientError('READ_ONLY', options.readOnly!);
  };
  const wrap = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof MageflowError) throw new ClientError(error.code, error.message);
      throw error;
    }
  };
  return {
    where: `the store${inspector.mf.store.namespace ? ` "${inspector.mf.store.namespace}"` : ''}`,
    list: (q) => wrap(() => inspector.list(q)),
    counts: (q) => wrap(() => inspector.counts(q)),
    get: (key) => wrap(() => inspector.get(key)),
    tree: (key, o) => wrap(() => inspector.tree(key, o)),
    timeline: (key) => wrap(() => inspector.timeline(key)),
    logs: (key, q) => wrap(() => inspector.logs(key, q)),
    tasks: async () => inspector.tasks(),
    act: (action, key, o) => (options.readOnly ? refuse() : wrap(() => inspector.act(action, key, o))),
    bulk: (action, q, o) => (options.readOnly ? refuse() : wrap(() => inspector.bulk(action, q, o))),
    start: (task, input) => (options.readOnly ? refuse() : wrap(() => inspector.start(task, input))),
    follow: async (listener) => {
      const sub = await inspector.subscribe(listener);
      return () => sub.close();
    },
    close: async () => options.close?.(),
  };
}

/** A running dashboard's API at `url` (its token, when it needs one). */
export function httpClient(url: string, token?: string): InspectionClient {
  const base = new URL(url);
  const tokenInUrl = base.searchParams.get('token');
  const auth = token ?? tokenInUrl ?? undefined;
  base.search = '';
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({ ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...extra });
  const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(new URL(path, base), { ...init, headers: headers(init.headers as Record<string, string>) });
    } catch (error) {
      throw new ClientError('UNREACHABLE', `no dashboard answers at ${base.origin} (${(error as Error).cause ?? (error as Error).message}); start one with serveDashboard(mf) or pass --url`);
    }
    const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    if (!response.ok) throw new ClientError(body.error?.code ?? String(response.status), body.error?.message ?? response.statusText);
    return body as T;
  };
  const post = <T>(path: string, body: unknown) =>
    call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mageflow-request': '1' }, body: JSON.stringify(body) });
  const k = encodeURIComponent;
  return {
    where: base.origin,
    list: (q) => call(`/api/signatures?${params(q)}`),
    counts: (q) => call(`/api/counts?${params(q)}`),
    get: async (key) => {
      try {
        return await call<SignatureDetail>(`/api/signatures/${k(key)}`);
      } catch (error) {
        if (error instanceof ClientError && error.code === 'SIGNATURE_NOT_FOUND') return null;
        throw error;
      }
    },
    tree: (key, o = {}) => call(`/api/signatures/${k(key)}/tree?offset=${o.memberOffset ?? 0}&limit=${o.memberLimit ?? 20}`),
    timeline: (key) => call(`/api/signatures/${k(key)}/timeline`),
    logs: (key, q = {}) => {
      const p = new URLSearchParams();
      for (const level of q.levels ?? []) p.append('level', level);
      if (q.text) p.set('text', q.text);
      if (q.limit !== undefined) p.set('limit', String(q.limit));
      if (q.tree) p.set('tree', '1');
      return call(`/api/signatures/${k(key)}/logs?${p}`);
    },
    tasks: () => call('/api/tasks'),
    act: (action, key, o = {}) => post(`/api/signatures/${k(key)}/${action}`, { confirm: o.confirm === true }),
    bulk: (action, q, o = {}) => post(`/api/bulk/${action}`, { filter: q, confirm: o.confirm === true, max: o.max }),
    start: async (task, input) => (await post<{ key: string }>(`/api/tasks/${k(task)}/run`, { input })).key,
    follow: async (listener) => {
      const controller = new AbortController();
      const response = await fetch(new URL('/api/events', base), { headers: headers(), signal: controller.signal }).catch((error: Error) => {
        throw new ClientError('UNREACHABLE', `no dashboard answers at ${base.origin} (${error.message})`);
      });
      if (!response.ok || !response.body) throw new ClientError(String(response.status), `the event stream of ${base.origin} answered ${response.status}`);
      const reader = response.body.getReader();
      let ready!: () => void;
      const opened = new Promise<void>((r) => (ready = r));
      void (async () => {
        const decoder = new TextDecoder();
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            if (block.includes('event: ready')) ready();
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (block.includes('event: batch') && data) for (const event of JSON.parse(data.slice(6)) as StoreEvent[]) listener(event);
          }
        }
      })().catch(() => undefined);
      await opened;
      return async () => controller.abort();
    },
    close: async () => undefined,
  };
}

function params(q: ListQuery): URLSearchParams {
  const p = new URLSearchParams();
  if (q.kinds?.length) p.set('kind', q.kinds.join(','));
  if (q.statuses?.length) p.set('status', q.statuses.join(','));
  if (q.taskName) p.set('task', q.taskName);
  if (q.roots) p.set('roots', '1');
  if (q.text) p.set('text', q.text);
  if (q.from !== undefined) p.set('from', String(q.from));
  if (q.to !== undefined) p.set('to', String(q.to));
  if (q.cursor) p.set('cursor', q.cursor);
  if (q.limit !== undefined) p.set('limit', String(q.limit));
  return p;
}
