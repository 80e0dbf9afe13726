// The dashboard page: the list with filters and counts on the left; the selected workflow's
// graph, progress and the selected signature's panel (details, logs, timeline) on the
// right. Everything follows the change feed: events update what they touch, no polling.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError, KINDS, openFeed, STATUSES, type Detail, type FeedEvent, type Filter, type Info, type Kind, type LogEntry, type Status, type Summary, type TreeNode } from './api';
import { Graph, STATUS_COLORS } from './Graph';
import { Logs } from './Logs';
import { formatDuration, ProgressBar } from './Progress';
import { Timeline } from './Timeline';

const EMPTY_FILTER: Filter = { statuses: [], kinds: [], task: '', text: '', roots: true, from: '', to: '' };

/** Calls `fn` at most once per `ms`, after the last call (events come in bursts). */
function useDebounced(fn: () => void, ms: number): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(fn);
  latest.current = fn;
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}

function keysOf(tree: TreeNode | undefined, out = new Set<string>()): Set<string> {
  if (!tree || out.has(tree.key)) return out;
  out.add(tree.key);
  for (const c of [...tree.children, ...tree.callbacks.success, ...tree.callbacks.error, ...tree.callbacks.cleanup]) keysOf(c, out);
  return out;
}

export function App() {
  const [info, setInfo] = useState<Info>();
  const [filter, setFilter] = useState<Filter>(EMPTY_FILTER);
  const [items, setItems] = useState<Summary[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [counts, setCounts] = useState<Record<Status, number>>();
  const [live, setLive] = useState(false);
  const [root, setRoot] = useState<string>();
  const [tree, setTree] = useState<TreeNode>();
  const [memberOffset, setMemberOffset] = useState(0);
  const [selected, setSelected] = useState<string>();
  const [detail, setDetail] = useState<Detail>();
  const [rootDetail, setRootDetail] = useState<Detail>();
  const [tab, setTab] = useState<'details' | 'logs' | 'timeline'>('details');
  const [view, setView] = useState<'workflow' | 'all-logs' | 'run'>('workflow');
  const [logs, setLogs] = useState<LogEntry[]>([]);
  const [allLogs, setAllLogs] = useState<LogEntry[]>([]);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string }>();
  const [confirming, setConfirming] = useState<{ title: string; run: () => Promise<void> }>();
  const treeKeys = useMemo(() => keysOf(tree), [tree]);
  const state = useRef({ root, selected, treeKeys, memberOffset, filter });
  state.current = { root, selected, treeKeys, memberOffset, filter };

  const say = (kind: 'ok' | 'error', text: string) => setNotice({ kind, text });
  const failed = (error: unknown) => say('error', error instanceof ApiError ? `${error.code}: ${error.message}` : String(error));

  const loadList = useCallback(async () => {
    const f = state.current.filter;
    const [page, c] = await Promise.all([api.list(f), api.counts(f)]);
    setItems(page.items);
    setCursor(page.cursor);
    setCounts(c.counts);
  }, []);
  const loadTree = useCallback(async () => {
    const { root: r, memberOffset: offset } = state.current;
    if (!r) return;
    const [t, d] = await Promise.all([api.tree(r, offset), api.detail(r)]);
    setTree(t);
    setRootDetail(d);
  }, []);
  const loadDetail = useCallback(async () => {
    const s = state.current.selected;
    if (!s) return;
    setDetail(await api.detail(s).catch(() => undefined));
  }, []);

  const refreshList = useDebounced(() => void loadList().catch(failed), 250);
  const refreshTree = useDebounced(() => void loadTree().catch(() => undefined), 150);
  const refreshDetail = useDebounced(() => void loadDetail(), 150);

  useEffect(() => {
    api.info().then(setInfo, failed);
  }, []);
  useEffect(() => {
    void loadList().catch(failed);
  }, [filter, loadList]);
  useEffect(() => {
    setTree(undefined);
    void loadTree().catch(failed);
  }, [root, memberOffset, loadTree]);
  useEffect(() => {
    void loadDetail();
  }, [selected, loadDetail]);
  useEffect(() => {
    if (!root) return setLogs([]);
    api.logs(root, true).then(setLogs, failed);
  }, [root]);

  // the change feed: each event updates what it touches
  useEffect(
    () =>
      openFeed((events: FeedEvent[]) => {
        const { treeKeys: keys, selected: sel } = state.current;
        let listTouched = false;
        const newLogs: (LogEntry & { parent?: string })[] = [];
        for (const e of events) {
          if (e.type === 'status') {
            listTouched = true;
            setItems((list) => list.map((item) => (item.key === e.key ? { ...item, status: e.entry.status } : item)));
            if (keys.has(e.key) || (e.parent && keys.has(e.parent))) refreshTree();
            if (e.key === sel || e.parent === sel) refreshDetail();
          } else {
            newLogs.push({ ...e.entry, key: e.key, ...(e.parent ? { parent: e.parent } : {}) });
          }
        }
        if (listTouched) refreshList();
        if (newLogs.length) {
          setAllLogs((all) => [...all, ...newLogs].slice(-2000));
          // a member of a big swarm is not drawn, but its container is
          const mine = newLogs.filter((l) => keys.has(l.key) || (l.parent !== undefined && keys.has(l.parent)));
          if (mine.length) setLogs((l) => [...l, ...mine].slice(-5000));
        }
      }, setLive),
    [refreshList, refreshTree, refreshDetail],
  );

  const openWorkflow = (key: string) => {
    setRoot(key);
    setSelected(key);
    setMemberOffset(0);
    setView('workflow');
  };

  const act = async (action: string, key: string) => {
    const run = async () => {
      try {
        const r = await api.act(action, key, action === 'cancel');
        say('ok', action === 'retry' ? `retried as ${r.retriedAs}` : `${action}: done`);
        if (action === 'retry' && r.retriedAs) openWorkflow(r.retriedAs);
        refreshTree();
        refreshDetail();
        refreshList();
      } catch (error) {
        failed(error);
      }
    };
    if (action === 'cancel') setConfirming({ title: `Cancel ${key}? It is stopped and deleted with its members and callbacks, for good.`, run });
    else await run();
  };

  const bulk = async (action: string) => {
    const run = async () => {
      try {
        const r = await api.bulk(action, filter, action === 'cancel');
        say(r.failed.length ? 'error' : 'ok', `${action}: ${r.done.length} done, ${r.failed.length} refused${r.complete ? '' : ' (more match: run it again)'}`);
        refreshList();
      } catch (error) {
        failed(error);
      }
    };
    setConfirming({ title: `${action} every signature matching the current filter?${action === 'cancel' ? ' Cancel deletes them for good.' : ''}`, run });
  };

  const readOnly = info?.readOnly ?? true;
  return (
    <div className="app">
      <header>
        <h1>Mageflow</h1>
        <span className="namespace">{info?.namespace ?? 'memory'}</span>
        <span className={`live ${live ? 'on' : 'off'}`} data-testid="live">
          {live ? 'live' : 'connecting…'}
        </span>
        {readOnly && info && (
          <span className="read-only" title={info.readOnlyReason ?? ''}>
            read-only
          </span>
        )}
        <nav>
          <button className={view === 'workflow' ? 'on' : ''} onClick={() => setView('workflow')}>
            Workflow
          </button>
          <button className={view === 'all-logs' ? 'on' : ''} onClick={() => setView('all-logs')}>
            All logs
          </button>
          {!readOnly && (
            <button className={view === 'run' ? 'on' : ''} onClick={() => setView('run')}>
              Run a task
            </button>
          )}
        </nav>
      </header>
      {notice && (
        <div className={`notice ${notice.kind}`} role="status" onClick={() => setNotice(undefined)}>
          {notice.text}
        </div>
      )}
      <div className="main">
        <aside className="list-pane">
          <Filters filter={filter} setFilter={setFilter} counts={counts} />
          {!readOnly && (
            <div className="bulk">
              Bulk on filter:{' '}
              {['suspend', 'resume', 'interrupt', 'cancel'].map((a) => (
                <button key={a} onClick={() => void bulk(a)}>
                  {a}
                </button>
              ))}
            </div>
          )}
          <ul className="list" data-testid="list">
            {items.map((item) => (
              <li
                key={item.key}
                className={item.key === root ? 'on' : ''}
                data-key={item.key}
                data-status={item.status}
                onClick={() => openWorkflow(item.key)}
              >
                <span className="dot" style={{ background: STATUS_COLORS[item.status] }} />
                <span className="item-name">{item.name ?? item.taskName}</span>
                <span className="item-kind">{item.kind}</span>
                <span className="item-status">{item.status}</span>
                <span className="item-time">{new Date(item.creationTime).toLocaleTimeString()}</span>
              </li>
            ))}
            {items.length === 0 && <li className="empty">No signatures match.</li>}
          </ul>
          {cursor && (
            <button
              className="more"
              onClick={() =>
                void api.list(filter, cursor).then((page) => {
                  setItems((list) => [...list, ...page.items]);
                  setCursor(page.cursor);
                }, failed)
              }
            >
              More
            </button>
          )}
        </aside>
        <section className="work-pane">
          {view === 'all-logs' && <Logs entries={allLogs} title="Every log line, live" />}
          {view === 'run' && info && <RunTask info={info} onStarted={(key) => openWorkflow(key)} onError={failed} />}
          {view === 'workflow' && !root && <div className="empty">Pick a workflow on the left.</div>}
          {view === 'workflow' && root && (
            <>
              <div className="workflow-head">
                <h2>{rootDetail?.name ?? rootDetail?.taskName ?? root}</h2>
                {rootDetail && (
                  <span className="status-badge" data-testid="root-status" style={{ background: STATUS_COLORS[rootDetail.status] }}>
                    {rootDetail.status}
                  </span>
                )}
                {rootDetail?.progress && <ProgressBar progress={rootDetail.progress} />}
              </div>
              {tree ? <Graph tree={tree} selected={selected} onSelect={setSelected} /> : <div className="graph empty">loading…</div>}
              {detail?.kind === 'swarm' && <Members swarmKey={detail.key} refreshKey={tree} onSelect={setSelected} />}
              {detail && (
                <div className="panel" data-testid="panel">
                  <div className="panel-head">
                    <strong>{detail.name ?? detail.taskName}</strong> <code>{detail.key}</code>
                    <span className="status-badge" data-testid="panel-status" style={{ background: STATUS_COLORS[detail.status] }}>
                      {detail.status}
                    </span>
                    {!readOnly && (
                      <span className="actions">
                        {['suspend', 'resume', 'interrupt', 'cancel', 'retry'].map((a) => (
                          <button key={a} data-action={a} className={a === 'cancel' ? 'danger' : ''} onClick={() => void act(a, detail.key)} disabled={a === 'retry' && detail.status !== 'failed'}>
                            {a}
                          </button>
                        ))}
                      </span>
                    )}
                  </div>
                  <div className="tabs">
                    {(['details', 'logs', 'timeline'] as const).map((t) => (
                      <button key={t} className={tab === t ? 'on' : ''} onClick={() => setTab(t)}>
                        {t}
                      </button>
                    ))}
                  </div>
                  {tab === 'details' && <DetailView detail={detail} onSelect={setSelected} />}
                  {tab === 'logs' && <Logs entries={logs} title="Logs of this workflow" exportUrl={api.logsExportUrl(root)} />}
                  {tab === 'timeline' && <Timeline root={root} detail={detail} refreshKey={tree} />}
                </div>
              )}
            </>
          )}
        </section>
      </div>
      {confirming && (
        <div className="modal" role="dialog" data-testid="confirm">
          <div className="modal-box">
            <p>{confirming.title}</p>
            <button onClick={() => setConfirming(undefined)}>Keep it</button>
            <button
              className="danger"
              data-testid="confirm-yes"
              onClick={() => {
                const run = confirming.run;
                setConfirming(undefined);
                void run();
              }}
            >
              Yes, go ahead
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

function Filters({ filter, setFilter, counts }: { filter: Filter; setFilter: (f: Filter) => void; counts?: Record<Status, number> }) {
  const toggle = <T,>(list: T[], value: T) => (list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);
  return (
    <div className="filters">
      <input placeholder="search key, name or task" value={filter.text} onChange={(e) => setFilter({ ...filter, text: e.target.value })} />
      <input placeholder="task name (exact)" value={filter.task} onChange={(e) => setFilter({ ...filter, task: e.target.value })} />
      <div className="chips" data-testid="status-counts">
        {STATUSES.map((s) => (
          <button key={s} className={filter.statuses.includes(s) ? 'on' : ''} data-status={s} onClick={() => setFilter({ ...filter, statuses: toggle(filter.statuses, s) })}>
            <span className="dot" style={{ background: STATUS_COLORS[s] }} /> {s.replace(/_/g, ' ')} <b>{counts?.[s] ?? 0}</b>
          </button>
        ))}
      </div>
      <div className="chips">
        {KINDS.map((k: Kind) => (
          <button key={k} className={filter.kinds.includes(k) ? 'on' : ''} onClick={() => setFilter({ ...filter, kinds: toggle(filter.kinds, k) })}>
            {k}
          </button>
        ))}
        <label>
          <input type="checkbox" checked={filter.roots} onChange={(e) => setFilter({ ...filter, roots: e.target.checked })} /> workflows only
        </label>
      </div>
      <div className="range">
        <input type="datetime-local" value={filter.from} onChange={(e) => setFilter({ ...filter, from: e.target.value })} title="created from" />
        <input type="datetime-local" value={filter.to} onChange={(e) => setFilter({ ...filter, to: e.target.value })} title="created until" />
      </div>
    </div>
  );
}

/** The members of the selected swarm, a page at a time (a big swarm is one node in the graph). */
function Members({ swarmKey, refreshKey, onSelect }: { swarmKey: string; refreshKey: unknown; onSelect: (key: string) => void }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<TreeNode>();
  useEffect(() => setOffset(0), [swarmKey]);
  useEffect(() => {
    api.tree(swarmKey, offset, 20).then(setPage, () => setPage(undefined));
  }, [swarmKey, offset, refreshKey]);
  if (!page?.members || page.key !== swarmKey) return null;
  const { total, shown } = page.members;
  return (
    <div className="members" data-testid="members">
      <div>
        Members of {page.name ?? page.taskName}: {total === 0 ? 'none' : `${offset + 1}–${offset + shown} of ${total}`}{' '}
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 20))}>
          ‹ prev
        </button>
        <button disabled={offset + shown >= total} onClick={() => setOffset(offset + 20)}>
          next ›
        </button>
      </div>
      <ul>
        {page.children.map((m) => (
          <li key={m.key} onClick={() => onSelect(m.key)} data-status={m.status}>
            <span className="dot" style={{ background: STATUS_COLORS[m.status] }} /> {m.name ?? m.taskName} <code>{m.key}</code> {m.status}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

function DetailView({ detail, onSelect }: { detail: Detail; onSelect: (key: string) => void }) {
  const links = (keys: string[]) =>
    keys.length === 0 ? '—' : keys.map((k) => <a key={k} onClick={() => onSelect(k)}>{k} </a>);
  return (
    <div className="detail" data-testid="detail">
      {detail.progress && <ProgressBar progress={detail.progress} />}
      <dl>
        <dt>kind</dt>
        <dd>{detail.kind}</dd>
        <dt>task</dt>
        <dd>{detail.taskName}</dd>
        <dt>created</dt>
        <dd>{new Date(detail.creationTime).toLocaleString()}</dd>
        <dt>attempts</dt>
        <dd>{detail.attempt ?? '—'}</dd>
        <dt>worker</dt>
        <dd>{detail.worker ?? '—'}</dd>
        <dt>TTL left</dt>
        <dd>{detail.ttlSec === null ? '—' : formatDuration(detail.ttlSec * 1000)}</dd>
        <dt>on success</dt>
        <dd>{links(detail.successCallbacks)}</dd>
        <dt>on error</dt>
        <dd>{links(detail.errorCallbacks)}</dd>
        <dt>cleanup</dt>
        <dd>
          {links(detail.cleanupCallbacks)} {detail.cleanupError ? <span className="failed">cleanup failed: {detail.cleanupError.message}</span> : null}
        </dd>
      </dl>
      <h4>kwargs</h4>
      <Json value={detail.kwargs} />
      {detail.message !== undefined && (
        <>
          <h4>message</h4>
          <Json value={detail.message} />
        </>
      )}
      {detail.hasResult && (
        <>
          <h4>result</h4>
          <Json value={detail.result} />
        </>
      )}
      {detail.errorInfo && (
        <>
          <h4>error</h4>
          <div className="error">
            {detail.errorInfo.name}: {detail.errorInfo.message} (after {detail.errorInfo.attempts} attempts)
          </div>
          {detail.errorInfo.stack && <pre className="stack">{detail.errorInfo.stack}</pre>}
        </>
      )}
    </div>
  );
}

function RunTask({ info, onStarted, onError }: { info: Info; onStarted: (key: string) => void; onError: (e: unknown) => void }) {
  const [task, setTask] = useState(info.tasks[0]?.name ?? '');
  const [input, setInput] = useState('{}');
  const schema = info.tasks.find((t) => t.name === task)?.inputSchema;
  const start = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      return onError(new ApiError('INVALID_JSON', `the input is not JSON: ${(error as Error).message}`));
    }
    try {
      onStarted((await api.run(task, parsed)).key);
    } catch (error) {
      onError(error);
    }
  };
  if (info.tasks.length === 0) return <div className="empty">No task is registered in the process serving this dashboard.</div>;
  return (
    <div className="run-task">
      <h2>Run a task</h2>
      <select value={task} onChange={(e) => setTask(e.target.value)}>
        {info.tasks.map((t) => (
          <option key={t.name}>{t.name}</option>
        ))}
      </select>
      <textarea rows={8} value={input} onChange={(e) => setInput(e.target.value)} spellCheck={false} />
      <button onClick={() => void start()}>Start</button>
      {schema !== undefined && (
        <>
          <h4>input schema</h4>
          <Json value={schema} />
        </>
      )}
    </div>
  );
}
