/**
 * The inspection API (`Inspector`) on a real store and engine: what the dashboard, the
 * CLI and the MCP server show and do. Every store package runs it.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Inspector, Mageflow, withCtx, type StoreEvent, type TaskContext } from '@mageflow/core';
import { uniqueId, waitUntil } from './helpers';
import type { ScenarioEnv, ScenarioFactory } from './scenarios';

/** A promise the test opens when it wants a held task body to go on. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

export function describeInspector(name: string, factory: ScenarioFactory, options: { timeoutMs?: number } = {}): void {
  const wait = options.timeoutMs ?? 20_000;
  const until = <T>(check: () => T | Promise<T>, what: string) => waitUntil(check, what, wait);

  describe(`Inspector: ${name}`, () => {
    let env: ScenarioEnv | undefined;
    const clients: Mageflow[] = [];
    afterEach(async () => {
      for (const mf of clients.splice(0)) await mf.stop();
      await env?.cleanup?.();
      env = undefined;
    }, 30_000);

    async function setup(redact?: ConstructorParameters<typeof Inspector>[1]) {
      env ??= await factory();
      const mf = new Mageflow({ store: env.store, engine: env.engine(), config: { sweepEveryMs: false } });
      clients.push(mf);
      const id = uniqueId('insp');
      return { mf, id, t: (label: string) => `${id}-${label}`, inspector: new Inspector(mf, redact) };
    }

    it('lists a workflow with counts, and shows a signature in full: kwargs, message, result, error and stack, attempts, callbacks, TTL, timeline', async () => {
      const { mf, t, id, inspector } = await setup();
      const ok = mf.task(t('ok'), ({ a, b }: { a: number; b: number }) => a + b);
      const bad = mf.task(t('bad'), () => {
        throw new Error('no luck');
      }, { retries: 1 });
      const cb = mf.task(t('cb'), () => undefined);
      await mf.start();
      const done = await mf.sign(ok, { kwargs: { b: 2 }, successCallbacks: [cb] });
      expect(await done.run({ a: 1 }, { timeoutMs: wait })).toBe(3);
      const failed = await mf.sign(bad, { errorCallbacks: [cb] });
      await expect(failed.run({ x: 1 }, { timeoutMs: wait })).rejects.toThrow();

      const page = await inspector.list({ text: id, roots: true, taskName: t('ok') });
      expect(page.items.map((i) => i.key)).toEqual([done.key]);
      const counts = await inspector.counts({ text: id, kinds: ['task'] });
      expect(counts.counts.done).toBeGreaterThanOrEqual(1);
      expect(counts.counts.failed).toBe(1);

      const detail = (await inspector.get(done.key))!;
      expect(detail).toMatchObject({ key: done.key, status: 'done', kwargs: { b: 2 }, message: { a: 1 }, result: 3, hasResult: true, attempt: 1, successCallbacks: [expect.any(String)] });
      expect(detail.ttlSec).toBeGreaterThan(0);
      expect(detail.timeline.map((e) => e.status)).toEqual(['pending', 'active', 'done']);
      expect(detail.timeline[1]).toMatchObject({ worker: mf.workerId, attempt: 1, runId: expect.any(String) });

      const failure = (await inspector.get(failed.key))!;
      expect(failure).toMatchObject({ status: 'failed', attempt: 2, error: 'no luck', errorInfo: { name: 'Error', message: 'no luck', attempts: 2, stack: expect.stringContaining('no luck') } });
      expect(await inspector.get(`${id}-nothing`)).toBeNull();
    });

    it("keeps a task's ctx.log lines and the runtime's notable events, by level and text, for one signature or its workflow", async () => {
      const { mf, t, inspector } = await setup();
      const chatty = mf.task(t('chatty'), withCtx(async (_: unknown, ctx: TaskContext) => {
        ctx.log.info('importing', { file: 'orders.csv' });
        ctx.log.warn('row 7 looks odd', { row: 7 });
        return 1;
      }));
      let calls = 0;
      const flaky = mf.task(t('flaky'), () => {
        if (++calls === 1) throw new Error('first try fails');
        return 2;
      }, { retries: 1 });
      await mf.start();
      const chain = await mf.chain([chatty, flaky]);
      await chain.run({}, { timeoutMs: wait });
      const [first, second] = (await mf.load(chain.key))!.toJSON().members!;
      const logs = await inspector.logs(first!);
      expect(logs.map((l) => [l.level, l.message, l.source])).toEqual([
        ['info', 'importing', 'task'],
        ['warn', 'row 7 looks odd', 'task'],
      ]);
      expect(logs[0]).toMatchObject({ key: first, fields: { file: 'orders.csv' }, attempt: 1, worker: mf.workerId });
      expect((await inspector.logs(first!, { levels: ['warn'] })).map((l) => l.message)).toEqual(['row 7 looks odd']);
      expect((await inspector.logs(second!)).map((l) => [l.level, l.source, l.message])).toEqual([['warn', 'runtime', 'attempt 1 failed, retrying: first try fails']]);
      const all = await inspector.logs(chain.key, { tree: true });
      expect(all.map((l) => l.key)).toEqual([first, first, second]);
      expect((await inspector.logs(chain.key, { tree: true, text: 'ORDERS' })).map((l) => l.message)).toEqual(['importing']);
    });

    it('draws the tree: a chain holding a swarm, members paged, callbacks beside, with progress', async () => {
      const { mf, t, inspector } = await setup();
      const step = mf.task(t('step'), (n: unknown) => n);
      const cb = mf.task(t('cb'), () => undefined);
      await mf.start();
      const swarm = await mf.swarm([step, step, step, step, step], { config: { maxConcurrency: 2 } });
      await swarm.close();
      const chain = await mf.chain([step, swarm], { success: cb });
      await chain.run(1, { timeoutMs: wait });
      const tree = await inspector.tree(chain.key, { memberLimit: 2 });
      expect(tree).toMatchObject({ key: chain.key, kind: 'chain', status: 'done', progress: { total: 2, done: 2, fraction: 1 } });
      expect(tree.children.map((c) => c.kind)).toEqual(['task', 'swarm']);
      expect(tree.children[1]).toMatchObject({ key: swarm.key, members: { total: 5, offset: 0, shown: 2 }, progress: { total: 5, done: 5 } });
      expect(tree.children[1]!.children).toHaveLength(2);
      expect(tree.callbacks.success.map((c) => c.taskName)).toEqual([t('cb')]);
      const paged = await inspector.tree(swarm.key, { memberOffset: 4, memberLimit: 2 });
      expect(paged.members).toEqual({ total: 5, offset: 4, shown: 1 });
      await expect(inspector.tree('nothing-here')).rejects.toMatchObject({ code: 'SIGNATURE_NOT_FOUND' });
    });

    it("shows a running swarm's progress with a rate and an ETA", async () => {
      const { mf, t, inspector } = await setup();
      const hold = gate();
      let started = 0;
      const work = mf.task(t('work'), async (n: number) => {
        if (++started > 2) await hold.opened;
        return n;
      });
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 6 }, () => work), { config: { maxConcurrency: 2 } });
      await swarm.close();
      await swarm.runNoWait(1);
      await until(async () => (await swarm.counts()).done === 2, 'two members done');
      const detail = (await inspector.get(swarm.key))!;
      expect(detail.progress).toMatchObject({ total: 6, done: 2, running: 2, queued: 2, fraction: 2 / 6, startedAt: expect.any(Number), ratePerSec: expect.any(Number), etaMs: expect.any(Number) });
      hold.open();
      await swarm.wait({ timeoutMs: wait });
    });

    it('suspends, resumes and interrupts; cancel asks for confirmation; retries a failed task; starts a registered task with validated input', async () => {
      const { mf, t, inspector } = await setup();
      const typed = mf.task(t('typed'), ({ n }: { n: number }) => n * 2, {
        input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] } as never,
      });
      let failing = true;
      const shaky = mf.task(t('shaky'), () => {
        if (failing) throw new Error('down');
        return 'up';
      });
      await mf.start();
      expect(inspector.tasks().filter((task) => task.name.startsWith(t('')))).toEqual([
        { name: t('typed'), inputSchema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, retries: 0 },
        { name: t('shaky'), retries: 0 },
      ]);
      const pending = await mf.sign(typed);
      await inspector.act('suspend', pending.key);
      expect((await inspector.get(pending.key))!.status).toBe('suspended');
      await inspector.act('resume', pending.key);
      expect((await inspector.get(pending.key))!.status).toBe('pending');
      await inspector.act('interrupt', pending.key);
      expect((await inspector.get(pending.key))!.status).toBe('interrupted');
      await expect(inspector.act('cancel', pending.key)).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
      expect(await inspector.get(pending.key)).not.toBeNull();
      await inspector.act('cancel', pending.key, { confirm: true });
      expect(await inspector.get(pending.key)).toBeNull();

      const failed = await mf.sign(shaky, { kwargs: { k: 1 } });
      await expect(failed.run({ m: 2 }, { timeoutMs: wait })).rejects.toThrow('down');
      await expect(inspector.act('retry', pending.key)).rejects.toMatchObject({ code: 'SIGNATURE_NOT_FOUND' });
      failing = false;
      const { retriedAs } = await inspector.act('retry', failed.key);
      await until(async () => (await inspector.get(retriedAs!))?.status === 'done', 'the retry done');
      expect(await inspector.get(retriedAs!)).toMatchObject({ result: 'up', kwargs: { k: 1 }, message: { m: 2 } });
      await expect(inspector.act('retry', retriedAs!)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

      await expect(inspector.start(t('typed'), { n: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(inspector.start('no-such-task', {})).rejects.toMatchObject({ code: 'UNRECOGNIZED_TASK' });
      const started = await inspector.start(t('typed'), { n: 21 });
      await until(async () => (await inspector.get(started))?.result === 42, 'the started task done');
    });

    it('applies an action to every signature a filter matches, and a bulk cancel needs confirmation', async () => {
      const { mf, t, id, inspector } = await setup();
      const idle = mf.task(t('idle'), () => undefined);
      await mf.start();
      const sigs = await Promise.all(Array.from({ length: 4 }, () => mf.sign(idle)));
      const other = await mf.sign(idle);
      await other.suspend();
      const suspended = await inspector.bulk('suspend', { text: id, statuses: ['pending'] });
      expect(new Set(suspended.done)).toEqual(new Set(sigs.map((s) => s.key)));
      expect(suspended).toMatchObject({ failed: [], complete: true });
      const resumeAll = await inspector.bulk('resume', { text: id, taskName: t('idle'), statuses: ['suspended'] }, { max: 2 });
      expect(resumeAll.done).toHaveLength(2);
      expect(resumeAll.complete).toBe(false);
      await expect(inspector.bulk('cancel', { text: id })).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
      const canceled = await inspector.bulk('cancel', { text: id }, { confirm: true });
      expect(canceled.done).toHaveLength(5);
      expect((await inspector.list({ text: id })).items).toEqual([]);
    });

    it('follows status changes and log lines as they happen, and redacts what the hook hides', async () => {
      const { mf, t, inspector } = await setup({
        redact: (value, site) => (site.field === 'kwargs' || site.field === 'log' ? JSON.parse(JSON.stringify(value).replace(/hunter2/g, '***')) : value),
      });
      const hold = gate();
      const secretive = mf.task(t('secretive'), withCtx(async (_: unknown, ctx: TaskContext) => {
        ctx.log.info('logging in', { password: 'hunter2' });
        await hold.opened;
        return 'ok';
      }));
      await mf.start();
      const events: StoreEvent[] = [];
      const sub = await inspector.subscribe((e) => events.push(e));
      try {
        const sig = await mf.sign(secretive, { kwargs: { password: 'hunter2' } });
        await sig.runNoWait({});
        await until(() => events.some((e) => e.key === sig.key && e.type === 'log'), 'the log line on the feed');
        await until(() => events.some((e) => e.key === sig.key && e.type === 'status' && e.entry.status === 'active'), 'active on the feed');
        const line = events.find((e) => e.key === sig.key && e.type === 'log');
        expect(line).toMatchObject({ type: 'log', entry: { message: 'logging in', fields: { password: '***' } } });
        expect((await inspector.get(sig.key))!.kwargs).toEqual({ password: '***' });
        expect((await inspector.logs(sig.key))[0]!.fields).toEqual({ password: '***' });
        hold.open();
        await until(() => events.some((e) => e.key === sig.key && e.type === 'status' && e.entry.status === 'done'), 'done on the feed');
      } finally {
        hold.open();
        await sub.close();
      }
    });
  });
}
