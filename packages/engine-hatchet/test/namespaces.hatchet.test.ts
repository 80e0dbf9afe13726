/**
 * Two apps, each with its own Redis prefix, on one Hatchet engine and with the same
 * task names: each runs only its own runs, because the engine's task prefix comes from
 * the store's namespace.
 */
import { Mageflow, MemoryStore } from '@mageflow/core';
import { Recorder, uniqueId, waitUntil } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { storeUnder } from '../../store-redis/test/redis';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;
const RUNS = 20;

suite('apps with different Redis prefixes on one Hatchet engine', () => {
  const stores = [storeUnder(uniqueId('mf-test-ns-a')), storeUnder(uniqueId('mf-test-ns-b'))];
  const apps: Mageflow[] = [];
  afterAll(async () => {
    for (const mf of apps) await mf.stop();
    for (const h of stores) await h.cleanup();
  });

  it('never run each other\'s tasks, though their task names are the same', async () => {
    const rec = new Recorder();
    const task = uniqueId('shared-name'); // the same in both apps, fresh for each test run
    for (const [i, h] of stores.slice(0, 2).entries()) {
      const mf = new Mageflow({ store: h.store, engine: new HatchetEngine({ workerName: uniqueId(`ns-${i}`) }), config: { sweepEveryMs: false } });
      mf.task(task, async ({ app }: { app: number }) => (rec.record(`ran-in-${i}`, app), app));
      apps.push(mf);
    }
    await Promise.all(apps.map((mf) => mf.start()));
    const sigs = await Promise.all(apps.map((mf, app) => Promise.all(Array.from({ length: RUNS }, () => mf.sign(task, { kwargs: { app } })))));
    await Promise.all(sigs.flatMap((list) => list.map((s) => s.runNoWait({}))));
    for (const [app, list] of sigs.entries()) {
      await waitUntil(async () => (await Promise.all(list.map((s) => apps[app]!.load(s.key)))).every((r) => r?.status === 'done'), `app ${app}'s runs`, 60_000, 100);
    }
    expect(rec.values('ran-in-0')).toEqual(Array(RUNS).fill(0));
    expect(rec.values('ran-in-1')).toEqual(Array(RUNS).fill(1));
  }, 120_000);

  it('a namespace with characters Hatchet refuses in names (":") still gets a prefix of its own', async () => {
    const engine = new HatchetEngine({ workerName: uniqueId('ns-c') });
    // Redis prefixes cannot hold ':' (they could nest), but another store's namespace may.
    const store = Object.assign(new MemoryStore(), { namespace: `${uniqueId('mf-test-ns')}:c` });
    const mf = new Mageflow({ store, engine, config: { sweepEveryMs: false } });
    apps.push(mf);
    mf.task('echo', async (x: { n: number }) => x.n);
    await mf.start();
    expect(await (await mf.sign('echo')).run({ n: 7 }, { timeoutMs: 60_000 })).toBe(7);
  }, 90_000);
});
