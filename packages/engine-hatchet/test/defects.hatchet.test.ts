/**
 * Engine behaviour pinned against a real Hatchet engine: registering after start is a
 * typed error, a timeout is exact to the millisecond limit (and still retried), and
 * expected task failures stay out of the logs unless asked for.
 */
import { InvalidTransitionError, Mageflow, MageflowError, withCtx, type ErrorCallbackMessage, type TaskContext } from '@mageflow/core';
import { Recorder, uniqueId, waitUntil } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { storeUnder } from '../../store-redis/test/redis';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;

/** Everything written to the console or to stdout/stderr while `fn` runs. */
async function captureOutput(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const spies = [
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void out.push(args.map(String).join(' ')))),
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (out.push(String(chunk)), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (out.push(String(chunk)), true)),
  ];
  try {
    await fn();
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
  return out.join('\n');
}

suite('Hatchet engine', () => {
  let h: ReturnType<typeof storeUnder>;
  const clients: Mageflow[] = [];
  const client = (engine: HatchetEngine) => {
    const mf = new Mageflow({ store: h.store, engine, config: { sweepEveryMs: false } });
    clients.push(mf);
    return mf;
  };
  beforeEach(() => {
    h = storeUnder(uniqueId('mf-test-hd'));
  });
  afterEach(async () => {
    for (const mf of clients.splice(0)) await mf.stop();
    await h.cleanup();
  });

  it('mf.task() after mf.start() raises InvalidTransitionError naming the task', async () => {
    const mf = client(new HatchetEngine());
    mf.task('early', async () => null);
    await mf.start();
    let error: unknown;
    try {
      mf.task('late-task', async () => null);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toBeInstanceOf(MageflowError);
    expect((error as MageflowError).code).toBe('INVALID_TRANSITION');
    expect((error as Error).message).toContain('"late-task"');
  }, 60_000);

  it('a start() with nothing to run still refuses later registrations', async () => {
    const engine = new HatchetEngine();
    await engine.start();
    expect(() => engine.register({ name: 'late', retries: 0, handler: async () => null })).toThrow(InvalidTransitionError);
    await engine.stop();
  });

  it('timeoutMs is exact (200 ms, not a whole second) and a timed-out attempt is retried', async () => {
    const mf = client(new HatchetEngine());
    const rec = new Recorder();
    mf.task(
      'slow',
      withCtx(async (_: unknown, ctx: TaskContext) => {
        const started = Date.now();
        rec.record('attempt', ctx.attempt);
        return new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => (rec.record('abortedAfter', Date.now() - started), reject(ctx.signal.reason))),
        );
      }),
      { timeoutMs: 200, retries: 1 },
    );
    mf.task('on-err', async (m: ErrorCallbackMessage) => void rec.record('err', m.error));
    await mf.start();
    const sig = await mf.sign('slow', { errorCallbacks: ['on-err'] });
    await sig.runNoWait({});
    await waitUntil(() => rec.count('err') === 1, 'the error callback', 60_000);
    expect(rec.values('attempt')).toEqual([1, 2]);
    for (const ms of rec.values('abortedAfter') as number[]) {
      // the limit counts from the attempt's start, a little before the body's (the store's begin step)
      expect(ms).toBeLessThanOrEqual(210);
      expect(ms).toBeGreaterThan(50);
    }
    expect(rec.values('err')[0]).toMatchObject({ code: 'TASK_TIMEOUT', message: 'task "slow" timed out after 200 ms', attempts: 2 });
    expect((await mf.load(sig.key))!.status).toBe('failed');
  }, 90_000);

  const flaky = (mf: Mageflow, rec: Recorder, message: string) => {
    mf.task(
      'flaky',
      withCtx(async (_: unknown, ctx: TaskContext) => {
        rec.record('attempt', ctx.attempt);
        if (ctx.attempt === 1) throw new Error(`${message} (retried)`);
        return 'ok';
      }),
      { retries: 1 },
    );
    mf.task('doomed', async () => {
      throw new Error(`${message} (final)`);
    });
    mf.task('on-err', async () => void rec.record('err'));
  };

  it('expected task failures print nothing by default', async () => {
    const mf = client(new HatchetEngine());
    const rec = new Recorder();
    const message = uniqueId('boom');
    flaky(mf, rec, message);
    const output = await captureOutput(async () => {
      await mf.start();
      const a = await mf.sign('flaky');
      const b = await mf.sign('doomed', { errorCallbacks: ['on-err'] });
      await Promise.all([a.runNoWait({}), b.runNoWait({})]);
      await waitUntil(async () => (await mf.load(a.key))?.status === 'done' && rec.count('err') === 1, 'both runs to end', 60_000);
      await new Promise((r) => setTimeout(r, 500)); // the SDK logs right after the attempt
    });
    expect(rec.values('attempt')).toEqual([1, 2]);
    expect(output).not.toContain(message);
    expect(output).not.toContain('Task run failed');
  }, 90_000);

  it('logTaskFailures: true prints each failed attempt again', async () => {
    const mf = client(new HatchetEngine({ logTaskFailures: true }));
    const rec = new Recorder();
    const message = uniqueId('boom');
    flaky(mf, rec, message);
    const output = await captureOutput(async () => {
      await mf.start();
      const a = await mf.sign('flaky');
      await a.runNoWait({});
      await waitUntil(async () => (await mf.load(a.key))?.status === 'done', 'the run to end', 60_000);
      await new Promise((r) => setTimeout(r, 500));
    });
    expect(output).toContain('Task run failed');
    expect(output).toContain(`${message} (retried)`);
  }, 90_000);
});
