import { InProcessEngine, TaskCanceledError, type EngineRun } from '../src';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('in-process engine', () => {
  it('never runs more than its slots at once, and serves higher priority first', async () => {
    const engine = new InProcessEngine({ slots: 2 });
    let running = 0;
    let max = 0;
    const order: string[] = [];
    engine.register({
      name: 'w',
      retries: 0,
      handler: async (run) => {
        running += 1;
        max = Math.max(max, running);
        order.push(String((run.input as { id: string }).id));
        await tick(10);
        running -= 1;
      },
    });
    await engine.dispatchMany(['l1', 'l2', 'l3'].map((id) => ({ task: 'w', input: { id }, priority: 1 })));
    await engine.dispatch({ task: 'w', input: { id: 'high' }, priority: 3 });
    await engine.start();
    await engine.whenIdle();
    expect(max).toBe(2);
    expect(order[0]).toBe('high');
  });

  it('holds a task to its own concurrency limit', async () => {
    const engine = new InProcessEngine({ slots: 10 });
    let running = 0;
    let max = 0;
    engine.register({ name: 'one', retries: 0, concurrency: 1, handler: async () => ((running += 1), (max = Math.max(max, running)), await tick(5), (running -= 1)) });
    await engine.start();
    await engine.dispatchMany(Array.from({ length: 5 }, () => ({ task: 'one', input: {} })));
    await engine.whenIdle();
    expect(max).toBe(1);
  });

  it('backs off between retries and reports the final outcome', async () => {
    const engine = new InProcessEngine({ backoff: { baseMs: 20, factor: 2, maxMs: 1000 } });
    const at: number[] = [];
    const outcomes: string[] = [];
    engine.onOutcome = (o) => outcomes.push(`${o.status}:${o.attempts}`);
    engine.register({ name: 'f', retries: 2, handler: async () => (at.push(Date.now()), Promise.reject(new Error('no'))) });
    await engine.start();
    await engine.dispatch({ task: 'f', input: {} });
    await engine.whenIdle();
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(15);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(35);
    expect(outcomes).toEqual(['failed:3']);
  });

  it('drops a queued run that was cancelled, and runs delayed ones later', async () => {
    const engine = new InProcessEngine();
    const seen: string[] = [];
    engine.register({ name: 't', retries: 0, handler: async (run) => void seen.push((run.input as { id: string }).id) });
    const { runId } = await engine.dispatch({ task: 't', input: { id: 'dropped' } });
    await engine.cancel(runId);
    const started = Date.now();
    await engine.dispatch({ task: 't', input: { id: 'later' }, delayMs: 50 });
    await engine.start();
    await engine.whenIdle();
    expect(seen).toEqual(['later']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('aborts what still runs after the grace period when stopped', async () => {
    const engine = new InProcessEngine({ graceMs: 50 });
    let reason: unknown;
    engine.register({ name: 'stuck', retries: 0, handler: (run) => new Promise((_, reject) => run.signal.addEventListener('abort', () => ((reason = run.signal.reason), reject(reason)))) });
    await engine.start();
    await engine.dispatch({ task: 'stuck', input: {} });
    await tick(10);
    await engine.stop();
    await tick(5);
    expect(reason).toBeInstanceOf(TaskCanceledError);
  });

  it('ends an attempt that never reads its signal when it is cancelled; a signal read later is already aborted', async () => {
    const engine = new InProcessEngine();
    const outcomes: string[] = [];
    engine.onOutcome = (o) => outcomes.push(o.status);
    let run: EngineRun | undefined;
    engine.register({ name: 'hang', retries: 2, handler: (r) => ((run = r), new Promise(() => {})) });
    await engine.start();
    const { runId } = await engine.dispatch({ task: 'hang', input: {} });
    await engine.cancel(runId);
    await engine.whenIdle();
    expect(outcomes).toEqual(['canceled']);
    expect(run!.signal.aborted).toBe(true);
    expect(run!.signal.reason).toBeInstanceOf(TaskCanceledError);
  });

  it('tells whenAborted listeners once, without a signal; a listener stopped before is not told, one added after is told at once', async () => {
    const engine = new InProcessEngine();
    let run: EngineRun | undefined;
    engine.register({ name: 'hang', retries: 0, handler: (r) => ((run = r), new Promise(() => {})) });
    await engine.start();
    const { runId } = await engine.dispatch({ task: 'hang', input: {} });
    await tick();
    const heard: unknown[] = [];
    const stopAfter = run!.whenAborted!((reason) => heard.push(reason));
    const stopBefore = run!.whenAborted!(() => heard.push('stopped before'));
    stopBefore();
    await engine.cancel(runId);
    await engine.cancel(runId);
    expect(heard).toHaveLength(1);
    expect(heard[0]).toBeInstanceOf(TaskCanceledError);
    expect(() => stopAfter()).not.toThrow(); // stopping once the run was aborted is harmless
    let late: unknown;
    run!.whenAborted!((reason) => (late = reason))();
    expect(late).toBe(heard[0]);
    expect(run!.signal.reason).toBe(heard[0]);
  });

  it('gives every attempt its own input: what a handler changes never reaches the next attempt nor the dispatcher', async () => {
    const engine = new InProcessEngine({ backoff: { baseMs: 1, factor: 1, maxMs: 1 } });
    const seen: unknown[] = [];
    engine.register({
      name: 'mutate',
      retries: 2,
      handler: async (run) => {
        const input = run.input as { list: number[]; at: Date };
        seen.push(structuredClone(input));
        input.list.push(run.attempt);
        throw new Error('again');
      },
    });
    await engine.start();
    const input = { list: [0], at: new Date(0) };
    await engine.dispatch({ task: 'mutate', input });
    input.list.push(-1);
    await engine.whenIdle();
    expect(seen).toEqual([{ list: [0], at: new Date(0) }, { list: [0], at: new Date(0) }, { list: [0], at: new Date(0) }]);
  });

  it('fails an attempt whose handler throws before returning a promise, and retries it', async () => {
    const engine = new InProcessEngine({ backoff: { baseMs: 1, factor: 1, maxMs: 1 } });
    const outcomes: string[] = [];
    engine.onOutcome = (o) => outcomes.push(`${o.status}:${o.attempts}:${(o.error as Error).message}`);
    engine.register({
      name: 'sync',
      retries: 1,
      handler: () => {
        throw new Error('at once');
      },
    });
    await engine.start();
    await engine.dispatchMany([{ task: 'sync', input: 1 }, { task: 'sync', input: 2 }]);
    await engine.whenIdle();
    expect(outcomes).toEqual(['failed:2:at once', 'failed:2:at once']);
  });
});
