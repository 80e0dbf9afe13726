/**
 * Hardening of the embedded default and of the API's own checks: config values,
 * the value codec, and the memory store's expiry (a long-lived process holds
 * memory for live work only).
 */
import { decodeValue, encodeValue, InProcessEngine, InvalidArgumentError, InvalidInputError, Mageflow, MemoryStore, type SignatureRecord } from '../src';

const makeRecord = (key: string): SignatureRecord => ({ key, kind: 'task', taskName: 't', kwargs: {}, successCallbacks: [], errorCallbacks: [], status: 'pending', creationTime: 0 });

describe('config', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['heartbeatMs 0', { heartbeatMs: 0 }, /heartbeatMs.*at least 10.*got 0/],
    ['sweepEveryMs -5', { sweepEveryMs: -5 }, /sweepEveryMs.*got -5/],
    ['lockWaitMs NaN', { lockWaitMs: Number.NaN }, /lockWaitMs.*got NaN/],
    ['lockLeaseMs a string', { lockLeaseMs: '100' }, /lockLeaseMs/],
    ['workerTtlMs below heartbeatMs', { heartbeatMs: 1000, workerTtlMs: 500 }, /workerTtlMs \(500\) must be longer than heartbeatMs \(1000\)/],
    ['a per-kind TTL of 0', { ttl: { chain: { ttlWhenSignDone: 0 } } }, /ttl\.chain\.ttlWhenSignDone/],
    ['recoverOnStart "yes"', { recoverOnStart: 'yes' }, /recoverOnStart/],
    ['an empty workerId', { workerId: '' }, /workerId/],
    ['a logger without warn()', { logger: { info() {} } }, /logger/],
  ];
  it.each(bad)('refuses %s with a message naming the field', (_label, config, message) => {
    expect(() => new Mageflow({ config: config as never })).toThrow(InvalidArgumentError);
    expect(() => new Mageflow({ config: config as never })).toThrow(message);
  });

  it('accepts sweepEveryMs: false and the defaults', () => {
    expect(new Mageflow({ config: { sweepEveryMs: false } }).config.sweepEveryMs).toBe(false);
    expect(new Mageflow().config.heartbeatMs).toBe(2000);
  });
});

describe('task registration', () => {
  it('refuses bad names, functions and options with a message naming them', () => {
    const mf = new Mageflow();
    expect(() => mf.task('', async () => 1)).toThrow(/needs a name/);
    expect(() => mf.task('t', 'not a function' as never)).toThrow(/needs a function/);
    expect(() => mf.task('t', async () => 1, { retries: -1 })).toThrow(/retries.*got number -1/);
    expect(() => mf.task('t', async () => 1, { timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => mf.task('t', async () => 1, { priority: 7 })).toThrow(/priority.*1 to 3/);
    expect(() => mf.task('t', async () => 1, { concurrency: 1.5 })).toThrow(/concurrency/);
    mf.task('t', async () => 1, { retries: 2, priority: 3 }); // and then it registers
  });

  it('a task the engine refuses is not left half-registered', () => {
    const engine = new InProcessEngine();
    const mf = new Mageflow({ engine });
    const register = engine.register.bind(engine);
    let refuse = true;
    engine.register = (definition) => {
      if (refuse) throw new InvalidArgumentError('the engine refuses');
      register(definition);
    };
    expect(() => mf.task('t', async () => 1)).toThrow('the engine refuses');
    refuse = false;
    expect(() => mf.task('t', async () => 1)).not.toThrow();
  });
});

describe('the value codec', () => {
  it('leaves plain JSON as it is and brings back every supported type', () => {
    const plain = { a: [1, 'two', null, true, { b: {} }] };
    expect(encodeValue(plain, 'x')).toStrictEqual(plain);
    const rich = { d: new Date(0), n: 10n ** 30n, m: new Map([[{ k: 1 }, new Set([-0])]]), u: undefined, x: [Number.NaN, Infinity] };
    const stored = encodeValue(rich, 'x');
    expect(JSON.parse(JSON.stringify(stored))).toStrictEqual(stored); // what a store keeps is plain JSON
    expect(decodeValue(stored)).toStrictEqual(rich);
  });

  it('decodes into fresh objects: changing them changes nothing stored', () => {
    const stored = encodeValue({ list: [1] }, 'x') as { list: number[] };
    (decodeValue(stored) as { list: number[] }).list.push(2);
    expect(stored.list).toEqual([1]);
  });

  it('refuses what cannot be kept, with the path, as a typed error', () => {
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 10_000; i++) cursor = cursor.d = {};
    expect(() => encodeValue(deep, 'the message')).toThrow(InvalidInputError);
    expect(() => encodeValue(deep, 'the message')).toThrow(/the message cannot be stored: nesting deeper than 128 levels at \/d\/d/);
    expect(() => encodeValue({ 'a/b': { c: () => 1 } }, 'kwargs')).toThrow('kwargs cannot be stored: a function (c) at /a~1b/c');
  });
});

describe('the memory store drops what expired', () => {
  it('purges expired records, swarm state, locks, heartbeats, audits, timelines and logs in O(expired), and the open and listing indexes with them', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    await store.createRecords(Array.from({ length: 100 }, (_, i) => makeRecord(`task:r${i}`)), { ttlSec: 10, track: true });
    await store.createRecords([makeRecord('task:long')], { ttlSec: 1000, track: true });
    await store.swarmAdd('task:r0', ['task:r1'], { ttlSec: 10 });
    await store.lock('task:long', 'h', 5000);
    await store.heartbeat('w', 5000);
    await store.audit({ at: now, action: 'cancel', key: 'task:r5', keys: [] }, 10);
    await store.appendLogs('task:r7', [{ at: now, level: 'info', message: 'hello', source: 'task' }]);
    expect(store.size()).toMatchObject({ records: 101, swarms: 1, open: 101, locks: 1, workers: 1, audits: 1, timelines: 101, logs: 1, indexed: 101 });
    now += 11_000;
    // each record with its timeline, the swarm state, the lock, the heartbeat, the audit, the log
    expect(store.purgeExpired()).toBe(100 + 100 + 1 + 1 + 1 + 1 + 1);
    expect(store.size()).toEqual({ records: 1, swarms: 0, open: 1, locks: 0, workers: 0, audits: 0, timelines: 1, logs: 0, indexed: 1 });
    expect(await store.getRecord('task:long')).not.toBeNull();
    await store.close();
  });

  it('a long-lived process holds memory for live work only: 20 rounds of a 1,000-member swarm with a short done TTL', async () => {
    let now = Date.now();
    const store = new MemoryStore({ now: () => now });
    const mf = new Mageflow({ store, config: { ttl: { doneTtl: 1 }, sweepEveryMs: false } });
    mf.task('m', async ({ i }: { i: number }) => i);
    mf.task('done', async () => null);
    await mf.start();
    for (let round = 0; round < 20; round++) {
      const swarm = await mf.swarm(Array.from({ length: 1000 }, (_, i) => ({ task: 'm', kwargs: { i } })), { config: { maxConcurrency: 50 }, success: 'done' });
      await swarm.close();
      await swarm.run({});
      now += 2_000; // past the done TTL of everything that round stored
      store.purgeExpired();
      // every round's records are gone: what is held does not grow with the rounds
      expect(store.size().records).toBeLessThan(10);
      expect(store.size().indexed).toBeLessThan(10);
      expect(store.size().timelines).toBeLessThan(10);
    }
    expect(store.size()).toMatchObject({ swarms: 0, open: 0 });
    await mf.close();
  }, 60_000);
});

describe('option names', () => {
  it('a misspelt option is refused, naming it, before anything is stored', async () => {
    const store = new MemoryStore();
    const mf = new Mageflow({ store, config: { sweepEveryMs: false } });
    const work = mf.task('work', () => 1);
    await expect(mf.sign(work, { kwarg: { a: 1 } } as never)).rejects.toThrow(/unknown option "kwarg"/);
    await expect(mf.chain([work, work], { sucess: work } as never)).rejects.toThrow(/unknown option "sucess"/);
    await expect(mf.swarm([work], { memberSucess: work } as never)).rejects.toThrow(/unknown option "memberSucess"/);
    await expect(mf.swarm([{ task: work, priorty: 'high' } as never])).rejects.toThrow(/unknown option "priorty" in swarm member 0/);
    await expect(mf.swarm([work], { sucess: work } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(store.size().records).toBe(0);
  });
});
