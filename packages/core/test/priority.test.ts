import { type DispatchRequest, InProcessEngine, Mageflow, MemoryStore, priorityRank } from '../src';

/** The in-process engine, keeping every request it was given. */
class RecordingEngine extends InProcessEngine {
  readonly requests: DispatchRequest[] = [];
  override async dispatch(request: DispatchRequest) {
    this.requests.push(request);
    return super.dispatch(request);
  }
  override async dispatchMany(requests: readonly DispatchRequest[]) {
    this.requests.push(...requests);
    return super.dispatchMany(requests);
  }
}

describe('priority', () => {
  it('ranks high before medium before low, and no priority as medium', () => {
    expect([priorityRank('high'), priorityRank('medium'), priorityRank(undefined), priorityRank('low')]).toEqual([0, 1, 1, 2]);
  });

  it("a signature's priority reaches the engine (3 high .. 1 low) and wins over its task's default", async () => {
    const engine = new RecordingEngine();
    const mf = new Mageflow({ store: new MemoryStore(), engine, config: { sweepEveryMs: false } });
    try {
      const work = mf.task('work', (n: number) => n, { priority: 1 });
      await mf.start();
      const swarm = await mf.swarm(
        [{ task: work, kwargs: {}, priority: 'high' }, { task: work, kwargs: {} }, { task: work, kwargs: {}, priority: 'low' }],
        { config: { maxConcurrency: 5, defaultPriority: 'medium' } },
      );
      await swarm.close();
      await swarm.run(1);
      await (await mf.sign(work)).run(2); // no priority of its own: the task's
      expect(engine.requests.map((r) => r.priority)).toEqual([3, 2, 1, 1]);
    } finally {
      await mf.stop();
    }
  });

  it('a bad priority or default priority is refused before anything is stored', async () => {
    const store = new MemoryStore();
    const mf = new Mageflow({ store, config: { sweepEveryMs: false } });
    try {
      const work = mf.task('work', (n: number) => n);
      await expect(mf.swarm([{ task: work, priority: 'urgent' as never }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('urgent') });
      await expect(mf.swarm([work], { config: { defaultPriority: 3 as never } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('defaultPriority') });
      await expect(mf.sign(work, { priority: 'HIGH' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(store.size().records).toBe(0);
    } finally {
      await mf.stop();
    }
  });
});
