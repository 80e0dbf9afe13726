/**
 * Hatchet specifics: a timeout counts as a failure (error callbacks once, after the
 * last attempt); interrupt reaches a running body through its AbortSignal, and how
 * long that takes (the engine's cancellation latency) is measured and printed.
 */
import { Mageflow, withCtx, type ErrorCallbackMessage, type TaskContext } from '@mageflow/core';
import { Recorder, uniqueId, waitUntil } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { storeUnder } from '../../store-redis/test/redis';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;

suite('Hatchet behaviour', () => {
  let h: ReturnType<typeof storeUnder>;
  let mf: Mageflow;
  let taskPrefix: string;
  beforeEach(() => {
    h = storeUnder(uniqueId('mf-test-hb'));
    taskPrefix = `${uniqueId('hb')}-`;
    mf = new Mageflow({ store: h.store, engine: new HatchetEngine({ taskPrefix }), config: { sweepEveryMs: false } });
  });
  afterEach(async () => {
    await mf.stop();
    await h.cleanup();
  });

  it('a timeout counts as a failure: retried, then the error callbacks fire once', async () => {
    const rec = new Recorder();
    mf.task('slow', withCtx(async (_: unknown, ctx: TaskContext) => (rec.record('attempt', ctx.attempt), new Promise(() => undefined))), { timeoutMs: 1000, retries: 1 });
    mf.task('on-err', async (m: ErrorCallbackMessage) => void rec.record('err', m.error));
    mf.task('on-ok', async () => void rec.record('ok'));
    await mf.start();
    const sig = await mf.sign('slow', { errorCallbacks: ['on-err'], successCallbacks: ['on-ok'] });
    await sig.runNoWait({});
    await waitUntil(() => rec.count('err') === 1, 'the error callback', 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(rec.values('attempt')).toEqual([1, 2]);
    expect(rec.count('err')).toBe(1);
    expect(rec.count('ok')).toBe(0);
    expect(rec.values('err')[0]).toMatchObject({ code: 'TASK_TIMEOUT', attempts: 2 });
    expect((await mf.load(sig.key))!.status).toBe('failed');
  }, 90_000);

  it("a child run a task body starts itself does not inherit the signature key", async () => {
    const rec = new Recorder();
    mf.task('child', async (input: { n: number }) => (rec.record('child', input), input.n * 2));
    mf.task('parent', withCtx(async (_: unknown, ctx: TaskContext) => {
      const native = ctx.native as { runChild(task: string, input: unknown): Promise<unknown> };
      return native.runChild(`${taskPrefix}child`, { n: 21 });
    }));
    await mf.start();
    const parent = await mf.sign('parent');
    // Had the child inherited the parent's key, it would have been turned away as a
    // duplicate run of the parent's signature, and the parent would never finish.
    // (runChild by name wraps the child's output under its task name)
    expect(await parent.run({}, { timeoutMs: 60_000 })).toEqual({ [`${taskPrefix}child`]: { result: 42 } });
    expect(rec.values('child')).toEqual([{ n: 21 }]);
  }, 90_000);

  it('interrupt reaches a running body through its AbortSignal (latency measured)', async () => {
    const latencies: number[] = [];
    let abortedAt = 0;
    mf.task('long', withCtx(async (_: unknown, ctx: TaskContext) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => ((abortedAt = Date.now()), reject(ctx.signal.reason))))));
    await mf.start();
    for (let i = 0; i < 3; i++) {
      abortedAt = 0;
      const sig = await mf.sign('long');
      await sig.runNoWait({});
      await waitUntil(async () => (await mf.load(sig.key))?.status === 'active', 'the task to run', 30_000);
      const asked = Date.now();
      await sig.interrupt();
      await waitUntil(() => abortedAt > 0, 'the body to see the abort', 30_000, 2);
      latencies.push(abortedAt - asked);
      expect((await mf.load(sig.key))!.status).toBe('interrupted');
    }
    console.log(`[hatchet] interrupt -> body abort latency: ${latencies.join(', ')} ms`);
    expect(latencies.every((ms) => ms < 10_000)).toBe(true);
  }, 120_000);
});
