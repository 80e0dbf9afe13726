/**
 * The trigger batcher on its own, with a fake trigger: which runs share a call, which
 * caller gets which run id, and who hears of a failed call.
 */
import { TriggerBatcher } from '../src/trigger-batcher';

/** A trigger that records its calls, answers `id-<run>` for each run, and can be held or made to fail. */
function fakeTrigger() {
  const calls: string[][] = [];
  const pending: { release(): void; fail(error: Error): void }[] = [];
  let hold = false;
  let failNext: Error | undefined;
  const trigger = (runs: string[]) => {
    calls.push([...runs]);
    const answer = runs.map((r) => `id-${r}`);
    const error = failNext;
    failNext = undefined;
    if (!hold) return error ? Promise.reject(error) : Promise.resolve(answer);
    return new Promise<string[]>((resolve, reject) =>
      pending.push({ release: () => (error ? reject(error) : resolve(answer)), fail: reject }),
    );
  };
  return {
    trigger,
    calls,
    pending,
    hold: (on: boolean) => (hold = on),
    failNextWith: (error: Error) => (failNext = error),
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('TriggerBatcher', () => {
  it('sends the runs of callers in one event-loop turn in one trigger, each caller getting its own run ids in order', async () => {
    const fake = fakeTrigger();
    const batcher = new TriggerBatcher(fake.trigger, { maxBatch: 500, maxInFlight: 2 });
    const [a, b, c] = await Promise.all([batcher.send(['a1', 'a2']), batcher.send(['b1']), batcher.send(['c1', 'c2', 'c3'])]);
    expect(fake.calls).toEqual([['a1', 'a2', 'b1', 'c1', 'c2', 'c3']]);
    expect(a).toEqual(['id-a1', 'id-a2']);
    expect(b).toEqual(['id-b1']);
    expect(c).toEqual(['id-c1', 'id-c2', 'id-c3']);
  });

  it('runs added while the limit of triggers is outstanding go out together in the next one, each run once', async () => {
    const fake = fakeTrigger();
    fake.hold(true);
    const batcher = new TriggerBatcher(fake.trigger, { maxBatch: 500, maxInFlight: 1 });
    const first = batcher.send(['a']);
    await turn();
    const later = [batcher.send(['b']), batcher.send(['c'])];
    await turn();
    await turn();
    const laterStill = batcher.send(['d']);
    await turn();
    expect(fake.calls).toEqual([['a']]);
    fake.hold(false);
    fake.pending[0]!.release();
    expect(await first).toEqual(['id-a']);
    expect(await Promise.all([...later, laterStill])).toEqual([['id-b'], ['id-c'], ['id-d']]);
    expect(fake.calls).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('never puts more than maxBatch runs in one trigger; a caller split across triggers gets all its ids in order', async () => {
    const fake = fakeTrigger();
    const batcher = new TriggerBatcher(fake.trigger, { maxBatch: 2, maxInFlight: 4 });
    const [many, one] = await Promise.all([batcher.send(['a', 'b', 'c', 'd', 'e']), batcher.send(['f'])]);
    expect(fake.calls).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f']]);
    expect(many).toEqual(['id-a', 'id-b', 'id-c', 'id-d', 'id-e']);
    expect(one).toEqual(['id-f']);
  });

  it('a failed trigger rejects exactly the callers whose runs it carried', async () => {
    const fake = fakeTrigger();
    fake.hold(true);
    const batcher = new TriggerBatcher(fake.trigger, { maxBatch: 500, maxInFlight: 2 });
    const inFirst = [batcher.send(['a']), batcher.send(['b'])];
    await turn();
    const inSecond = batcher.send(['c']);
    await turn();
    expect(fake.calls).toEqual([['a', 'b'], ['c']]);
    fake.pending[0]!.fail(new Error('engine unavailable'));
    fake.pending[1]!.release();
    await expect(inFirst[0]).rejects.toThrow('engine unavailable');
    await expect(inFirst[1]).rejects.toThrow('engine unavailable');
    expect(await inSecond).toEqual(['id-c']);
  });

  it('a caller whose runs were partly refused is not sent the rest of them', async () => {
    const fake = fakeTrigger();
    fake.failNextWith(new Error('refused'));
    const batcher = new TriggerBatcher(fake.trigger, { maxBatch: 2, maxInFlight: 1 });
    const caller = batcher.send(['a', 'b', 'c', 'd']);
    const other = batcher.send(['e']);
    await expect(caller).rejects.toThrow('refused');
    expect(await other).toEqual(['id-e']);
    expect(fake.calls).toEqual([['a', 'b'], ['e']]);
  });

  it('a trigger that answers with the wrong number of run ids fails its callers', async () => {
    const batcher = new TriggerBatcher(async (runs: string[]) => runs.slice(1).map((r) => `id-${r}`), { maxBatch: 500, maxInFlight: 1 });
    await expect(batcher.send(['a', 'b'])).rejects.toThrow('1 run ids for 2 runs');
  });
});
