/**
 * The cache's own promises, on real PostgreSQL and Redis: a read of a live record is
 * answered by Redis; no interleaving of a reader filling the cache and writers
 * (or a writer that died mid-step) leaves a stale entry; finished records leave
 * Redis; every key the tier keeps in Redis has a TTL; a Redis that is down lets reads
 * through to PostgreSQL and refuses writes before anything is written.
 */
import { InProcessEngine, Mageflow, StoreUnavailableError, type SignatureRecord } from '@mageflow/core';
import { delay, record, waitUntil } from '@mageflow/testing';
import { TierStore } from '../src';
import { DATABASE_URL, servicesOrSkip, tierIn, uniqueSchema } from './tier';

const available = servicesOrSkip();
const suite = available ? describe : describe.skip;
const TTL = 3600;
jest.setTimeout(60_000); // a busy machine is slow; nothing here is timed

suite('the tier cache', () => {
  let h: ReturnType<typeof tierIn>;
  afterEach(async () => {
    await h?.cleanup();
  });

  const active = (key: string, extra: Partial<SignatureRecord> = {}) => record(key, { status: 'active', runId: 'r1', attempt: 1, ...extra });
  const cached = async (key: string) => {
    const text = await h.store.cache.redis.get(h.store.cache.entryKey(key));
    return text === null ? null : (JSON.parse(text) as SignatureRecord);
  };

  it('a live record is read from Redis after its first read; a pending task or a finished record is never cached', async () => {
    h = tierIn(uniqueSchema('tcache'));
    const { store } = h;
    await store.createRecords([active('a'), record('p'), record('d', { status: 'done' })], { ttlSec: TTL, track: true });
    expect((await store.getRecord('a'))?.status).toBe('active');
    await waitUntil(() => cached('a'), 'the entry to be filled');
    const before = { ...store.stats };
    expect(await store.getRecords(['a', 'a'])).toEqual([await h.store.postgres.getRecord('a'), await h.store.postgres.getRecord('a')]);
    expect(store.stats.hits - before.hits).toBe(2);
    expect(store.stats.misses - before.misses).toBe(0);

    await store.getRecords(['p', 'd', 'missing']);
    await delay(100);
    expect(await cached('p')).toBeNull();
    expect(await cached('d')).toBeNull();
    expect(await cached('missing')).toBeNull();
  });

  it('an entry lives no longer than its record in PostgreSQL', async () => {
    h = tierIn(uniqueSchema('tcache'));
    await h.store.createRecords([active('short')], { ttlSec: 2, track: false });
    await h.store.getRecord('short');
    const ttl = await waitUntil(async () => {
      const ms = await h.store.cache.redis.pttl(h.store.cache.entryKey('short'));
      return ms > 0 ? ms : undefined;
    }, 'the entry to be filled');
    expect(ttl).toBeLessThanOrEqual(2000);
    await delay(2100);
    expect(await h.store.getRecord('short')).toBeNull();
  });

  it('a write drops the entry, and its writer reads what it wrote', async () => {
    h = tierIn(uniqueSchema('tcache'));
    const { store } = h;
    await store.createRecords([active('w')], { ttlSec: TTL, track: false });
    await store.getRecord('w');
    await waitUntil(() => cached('w'), 'the entry to be filled');
    for (let i = 0; i < 20; i++) {
      const r = await store.updateRecord('w', { set: { kwargs: { i } } });
      expect(r.ok).toBe(true);
      expect((await store.getRecord('w'))?.kwargs).toEqual({ i });
    }
    await store.updateRecord('w', { set: { status: 'done' }, ttlSec: 60 });
    expect((await store.getRecord('w'))?.status).toBe('done');
    await delay(100);
    expect(await cached('w')).toBeNull();
  });

  it('a fill that read PostgreSQL before a write cannot cache what it read (the stale-fill race)', async () => {
    h = tierIn(uniqueSchema('tcache'));
    const { store } = h;
    await store.createRecords([active('race')], { ttlSec: TTL, track: false });
    // the reader misses and takes its ticket, then reads PostgreSQL...
    const [miss] = await store.cache.read(['race'], 'reader-ticket', 60_000);
    expect(miss).toEqual({ fill: true });
    const old = await store.postgres.getRecord('race');
    // ...a writer changes the record meanwhile (two writers, one after the other)...
    await store.updateRecord('race', { set: { kwargs: { v: 1 } } });
    await store.updateRecord('race', { set: { kwargs: { v: 2 } } });
    // ...and the reader's fill arrives last: it must not land
    await store.cache.fill([{ key: 'race', value: JSON.stringify(old), ttlMs: 60_000 }], 'reader-ticket');
    expect(await cached('race')).toBeNull();
    expect((await store.getRecord('race'))?.kwargs).toEqual({ v: 2 });
    await waitUntil(() => cached('race'), 'a fresh fill');
    expect((await cached('race'))?.kwargs).toEqual({ v: 2 });
  });

  it('no fill lands while a write is in flight, nor after a writer died between its PostgreSQL step and its release, until its guard lapses', async () => {
    h = tierIn(uniqueSchema('tcache'), { writeGuardMs: 1500 });
    const { store } = h;
    await store.createRecords([active('crash')], { ttlSec: TTL, track: false });
    await store.getRecord('crash');
    await waitUntil(() => cached('crash'), 'the entry to be filled');
    // a writer takes the guard and commits in PostgreSQL, then its process dies (no release)
    await store.cache.guard(['crash'], 'dead-writer', 1500);
    expect(await cached('crash')).toBeNull();
    await store.postgres.updateRecord('crash', { set: { kwargs: { committed: true } } });
    // reads meanwhile go to PostgreSQL and fill nothing
    expect(await store.cache.read(['crash'], 'some-reader', 60_000)).toEqual([{ fill: false }]);
    for (let i = 0; i < 5; i++) expect((await store.getRecord('crash'))?.kwargs).toEqual({ committed: true });
    await delay(100);
    expect(await cached('crash')).toBeNull();
    // once the guard lapsed, a read fills what committed
    await delay(1500);
    expect((await store.getRecord('crash'))?.kwargs).toEqual({ committed: true });
    await waitUntil(() => cached('crash'), 'a fill after the guard lapsed');
    expect((await cached('crash'))?.kwargs).toEqual({ committed: true });
  });

  it('racing writers and readers on one record leave the cache equal to PostgreSQL, and each writer reads its own write', async () => {
    h = tierIn(uniqueSchema('tcache'));
    const { store } = h;
    // a second tier on the same schema and prefix: another process
    const other = new TierStore({ postgres: { connectionString: DATABASE_URL, schema: h.schema, poolOptions: { max: 4 } }, redis: { prefix: h.prefix } });
    try {
      await store.createRecords([active('hot')], { ttlSec: TTL, track: false });
      // each writer owns a field, so each can check that it reads its own last write
      const writer = (s: TierStore, field: 'kwargs' | 'message') => async () => {
        for (let i = 0; i < 40; i++) {
          const r = await s.updateRecord('hot', { set: { [field]: field === 'kwargs' ? { i } : { value: i } } });
          expect(r.ok).toBe(true);
          expect((await s.getRecord('hot'))?.[field]).toEqual(field === 'kwargs' ? { i } : { value: i });
        }
      };
      const reader = (s: TierStore) => async () => {
        for (let i = 0; i < 150; i++) await s.getRecords(['hot', 'hot']);
      };
      await Promise.all([writer(store, 'kwargs')(), writer(other, 'message')(), reader(store)(), reader(other)(), reader(store)()]);
      await delay(200); // the last fills and releases
      const truth = await store.postgres.getRecord('hot');
      expect([truth?.kwargs, truth?.message]).toEqual([{ i: 39 }, { value: 39 }]);
      const entry = await cached('hot');
      if (entry) expect(entry).toEqual(truth);
      expect(await store.getRecord('hot')).toEqual(truth);
      expect(store.stats.hits + other.stats.hits).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('finished workflows leave Redis: after a chain and a swarm finish, no record of theirs is cached and every tier key has a TTL', async () => {
    h = tierIn(uniqueSchema('tcache'));
    const mf = new Mageflow({ store: h.store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    try {
      mf.task('step', async (n: number) => (await delay(2), n + 1));
      mf.task('member', async ({ i }: { i: number }) => (await delay(2), i));
      await mf.start();
      const chain = await mf.chain(['step', 'step', 'step']);
      const swarm = await mf.swarm(Array.from({ length: 20 }, (_, i) => ({ task: 'member', kwargs: { i } })), { config: { maxConcurrency: 4 } });
      await swarm.close();
      await swarm.runNoWait({});
      // a dashboard polling while they run keeps their live records in the cache
      let polling = true;
      const keys = [chain.key, swarm.key, ...(await h.store.swarmMembers(swarm.key)), ...(await h.store.swarmMembers(chain.key))];
      const poll = (async () => {
        while (polling) (await h.store.getRecords(keys), await delay(5));
      })();
      expect(await chain.run(0, { timeoutMs: 20_000 })).toBe(3);
      await swarm.wait({ timeoutMs: 20_000 });
      polling = false;
      await poll;
      expect(h.store.stats.hits).toBeGreaterThan(0);
      await delay(200);
      const left = [...(await h.redisKeys())];
      expect(left.filter(([k]) => k.startsWith(`${h.prefix}:c:`))).toEqual([]);
      for (const [key, ttl] of left) expect([key, ttl > 0]).toEqual([key, true]);
    } finally {
      await mf.stop();
    }
  });

  it('a Redis that is down: reads are answered by PostgreSQL, writes fail with StoreUnavailableError before anything is written', async () => {
    h = tierIn(uniqueSchema('tcache'));
    await h.store.createRecords([active('x')], { ttlSec: TTL, track: false });
    const down = new TierStore({ postgres: h.store.postgres, redis: { url: 'redis://127.0.0.1:1', commandTimeoutMs: 500, redisOptions: { retryStrategy: () => null } } });
    try {
      expect((await down.getRecord('x'))?.status).toBe('active');
      expect(down.stats.redisReadErrors).toBe(1);
      const failed = await down.updateRecord('x', { set: { kwargs: { changed: true } } }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(StoreUnavailableError);
      expect(String((failed as Error).message)).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1\/? is unavailable, so the write to "x" was not sent/);
      expect((await h.store.postgres.getRecord('x'))?.kwargs).toEqual({});
    } finally {
      await down.close(); // the PostgreSQL store was handed over: left open for h
    }
  });
});

