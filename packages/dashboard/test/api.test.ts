/**
 * The dashboard's JSON API and event stream, served for real and called over HTTP, on
 * memory and on Redis: what the page reads and does, and what it must refuse.
 */
import { InProcessEngine, Mageflow, withCtx, type TaskContext } from '@mageflow/core';
import { waitUntil } from '@mageflow/testing';
import { serveDashboard, type RunningDashboard } from '../src';
import { storeCases } from './services';

const JSON_POST = { 'content-type': 'application/json', 'x-mageflow-request': '1' };

describe.each(storeCases())('dashboard API on $name', (storeCase) => {
  let mf: Mageflow;
  let dash: RunningDashboard;
  let cleanup: () => Promise<void>;
  const extra: RunningDashboard[] = [];

  beforeEach(async () => {
    const made = storeCase.make();
    cleanup = made.cleanup;
    mf = new Mageflow({ store: made.store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    dash = await serveDashboard(mf, { port: 0, print: null });
  });
  afterEach(async () => {
    for (const d of extra.splice(0)) await d.close();
    await dash.close();
    await mf.stop();
    await cleanup();
  });

  const api = (path: string, init?: RequestInit) => fetch(new URL(path, dash.url), init);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = async (path: string, init?: RequestInit): Promise<any> => (await api(path, init)).json();

  it('lists, counts and shows a workflow, its tree, timeline and logs (also as JSON lines)', async () => {
    const step = mf.task('api-step', withCtx(async (n: number, ctx: TaskContext) => (ctx.log.info('stepping', { n }), n + 1)));
    await mf.start();
    const chain = await mf.chain([step, step], { name: 'Nightly' });
    await chain.run(1, { timeoutMs: 10_000 });

    const list = await json('/api/signatures?roots=1&text=nightly');
    expect(list.items.map((i: { key: string }) => i.key)).toEqual([chain.key]);
    const counts = await json('/api/counts?kind=task');
    expect(counts.counts.done).toBe(2);
    const detail = await json(`/api/signatures/${encodeURIComponent(chain.key)}`);
    expect(detail).toMatchObject({ key: chain.key, kind: 'chain', status: 'done', result: 3, progress: { total: 2, done: 2 } });
    const tree = await json(`/api/signatures/${encodeURIComponent(chain.key)}/tree`);
    expect(tree.children.map((c: { status: string }) => c.status)).toEqual(['done', 'done']);
    expect((await json(`/api/signatures/${encodeURIComponent(chain.key)}/timeline`)).map((e: { status: string }) => e.status)).toEqual(['pending', 'active', 'done']);
    const logs = await json(`/api/signatures/${encodeURIComponent(chain.key)}/logs?tree=1&level=info&text=stepping`);
    expect(logs.map((l: { fields: unknown }) => l.fields)).toEqual([{ n: 1 }, { n: 2 }]);
    const jsonl = await api(`/api/signatures/${encodeURIComponent(chain.key)}/logs?tree=1&format=jsonl`);
    expect(jsonl.headers.get('content-type')).toMatch(/ndjson/);
    expect((await jsonl.text()).trim().split('\n').map((line) => JSON.parse(line).message)).toEqual(['stepping', 'stepping']);
    const waterfall = await json(`/api/signatures/${encodeURIComponent(chain.key)}/waterfall`);
    expect(waterfall).toHaveLength(3);
    expect(waterfall[1].end).toBeGreaterThanOrEqual(waterfall[1].start);
    expect((await api('/api/signatures/nothing-here')).status).toBe(404);
    expect(await json('/api/info')).toMatchObject({ readOnly: false, tasks: [{ name: 'api-step' }] });
  });

  it('streams status changes and log lines as server-sent events', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = mf.task('api-slow', withCtx(async (_: unknown, ctx: TaskContext) => {
      ctx.log.warn('halfway there');
      await held;
      return 'ok';
    }));
    await mf.start();
    const response = await api('/api/events');
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    const events: { type: string; key: string; entry: { status?: string; message?: string } }[] = [];
    let text = '';
    let ready = false;
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
        let cut;
        while ((cut = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          if (block.includes('event: ready')) ready = true;
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: batch') && data) events.push(...JSON.parse(data.slice(6)));
        }
      }
    })().catch(() => undefined);
    await waitUntil(() => ready, 'the stream to open');
    const sig = await mf.sign(slow);
    await sig.runNoWait({});
    await waitUntil(() => events.some((e) => e.key === sig.key && e.entry.message === 'halfway there'), 'the log line on the stream');
    await waitUntil(() => events.some((e) => e.key === sig.key && e.entry.status === 'active'), 'active on the stream');
    release();
    await waitUntil(() => events.some((e) => e.key === sig.key && e.entry.status === 'done'), 'done on the stream');
    await reader.cancel();
    await pump;
  });

  it('acts on signatures, asks for confirmation to cancel, runs a task with validated input, and acts in bulk', async () => {
    const idle = mf.task('api-idle', () => 'idle', { input: { type: 'object', properties: { n: { type: 'number' } } } as never });
    const sig = await mf.sign(idle);
    const post = (path: string, body: unknown = {}) => api(path, { method: 'POST', headers: JSON_POST, body: JSON.stringify(body) });
    expect((await post(`/api/signatures/${encodeURIComponent(sig.key)}/suspend`)).status).toBe(200);
    expect((await mf.load(sig.key))!.status).toBe('suspended');
    const unconfirmed = await post(`/api/signatures/${encodeURIComponent(sig.key)}/cancel`);
    expect(unconfirmed.status).toBe(428);
    expect((await unconfirmed.json()).error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await post(`/api/signatures/${encodeURIComponent(sig.key)}/cancel`, { confirm: true })).status).toBe(200);
    expect(await mf.load(sig.key)).toBeNull();

    const bad = await post('/api/tasks/api-idle/run', { input: { n: 'x' } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('INVALID_INPUT');
    const started = (await (await post("/api/tasks/api-idle/run", { input: { n: 1 } })).json()) as { key: string };
    await waitUntil(async () => (await mf.load(started.key))?.status === 'done', 'the started task done');

    const many = await Promise.all([mf.sign(idle), mf.sign(idle), mf.sign(idle)]);
    const bulk = await (await post('/api/bulk/suspend', { filter: { taskName: 'api-idle', statuses: ['pending'] } })).json();
    expect(new Set(bulk.done)).toEqual(new Set(many.map((s) => s.key)));
    expect((await post('/api/bulk/cancel', { filter: { taskName: 'api-idle' } })).status).toBe(428);
  });

  it('refuses control requests from other sites, without the header, in read-only mode, and requests without the token off loopback', async () => {
    const idle = mf.task('api-guarded', () => 1);
    const sig = await mf.sign(idle);
    const path = `/api/signatures/${encodeURIComponent(sig.key)}/suspend`;
    expect((await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(403);
    expect((await api(path, { method: 'POST', headers: { ...JSON_POST, origin: 'https://evil.example' }, body: '{}' })).status).toBe(403);
    expect((await api(path, { method: 'POST', headers: { 'x-mageflow-request': '1', 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    expect((await api(path, { method: 'GET' })).status).toBe(404);
    expect((await mf.load(sig.key))!.status).toBe('pending');

    const readOnly = await serveDashboard(mf, { port: 0, readOnly: true, print: null });
    extra.push(readOnly);
    const refused = await fetch(new URL(path, readOnly.url), { method: 'POST', headers: JSON_POST, body: '{}' });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('READ_ONLY');

    const lines: string[] = [];
    const open = await serveDashboard(mf, { port: 0, host: '0.0.0.0', print: (l) => lines.push(l) });
    extra.push(open);
    expect(open.token).toEqual(expect.any(String));
    expect(lines.join('\n')).toContain(open.token);
    const base = `http://127.0.0.1:${open.port}`;
    expect((await fetch(`${base}/api/signatures`)).status).toBe(401);
    expect((await fetch(`${base}/api/signatures`, { headers: { authorization: `Bearer ${open.token}` } })).status).toBe(200);
    const withLink = await fetch(open.url, { redirect: 'manual' });
    const cookie = withLink.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect((await fetch(`${base}/api/signatures`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
  });

  it('masks values with the redaction hook', async () => {
    const masked = await serveDashboard(mf, { port: 0, print: null, redact: (value) => JSON.parse(JSON.stringify(value).replace(/s3cret/g, '***')) });
    extra.push(masked);
    const task = mf.task('api-secret', () => 'ok');
    const sig = await mf.sign(task, { kwargs: { apiKey: 's3cret' } });
    const detail = await (await fetch(new URL(`/api/signatures/${encodeURIComponent(sig.key)}`, masked.url))).json();
    expect(detail.kwargs).toEqual({ apiKey: '***' });
  });
});
