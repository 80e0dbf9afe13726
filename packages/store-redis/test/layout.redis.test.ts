/**
 * What the Redis store keeps where (see src/lua/README.md): the queue as a sorted set
 * scored by add sequence, a swarm's status copy in its state, and the lock mark on records.
 */
import type { SignatureRecord } from '@mageflow/core';
import { record, uniqueId } from '@mageflow/testing';
import { redisOrSkip, storeUnder } from './redis';

const suite = redisOrSkip() ? describe : describe.skip;
const TTL = 3600;
const claim = (maxConcurrency: number) => ({ maxConcurrency, whenStatus: ['active' as const], worker: 'w', ttlSec: TTL });

suite('Redis key layout', () => {
  let h: ReturnType<typeof storeUnder>;
  let id: string;
  const key = (suffix: string) => `task:${id}-${suffix}`;
  const swarmKey = () => key('swarm');
  const swarm = (extra: Partial<SignatureRecord> = {}) => record(swarmKey(), { kind: 'swarm', status: 'active', ...extra });

  beforeEach(() => {
    id = uniqueId('layout');
    h = storeUnder(uniqueId('mf-test-layout'));
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('queues members in a sorted set scored by priority rank and add sequence, across adds, changes and a reset', async () => {
    const RANK = 2 ** 40; // a score is rank * 2^40 + seq; medium is rank 1
    await h.store.createRecords([swarm()], { ttlSec: TTL, track: true });
    await h.store.swarmAdd(swarmKey(), [key('a'), key('b')], { ttlSec: TTL });
    await h.store.swarmAdd(swarmKey(), [key('c'), key('d')], { ttlSec: TTL, priorities: ['low', undefined] });
    const queue = h.store.keys.swarm(swarmKey()).queue;
    const state = h.store.keys.swarm(swarmKey()).state;
    const scored = [key('a'), String(RANK + 1), key('b'), String(RANK + 2), key('d'), String(RANK + 4), key('c'), String(2 * RANK + 3)];
    expect(await h.store.redis.zrange(queue, 0, -1, 'WITHSCORES')).toEqual(scored);
    expect(await h.store.redis.hget(state, `rank:${key('c')}`)).toBe('2');
    await h.store.swarmSetPriority(swarmKey(), key('b'), 'high');
    expect(await h.store.redis.zscore(queue, key('b'))).toBe('2');
    expect(await h.store.redis.hget(state, `rank:${key('b')}`)).toBe('0');
    await h.store.swarmSetPriority(swarmKey(), key('b'), 'medium'); // back to the default: no rank field
    expect(await h.store.redis.hget(state, `rank:${key('b')}`)).toBeNull();
    await h.store.swarmClaim(swarmKey(), claim(2));
    expect(await h.store.redis.zrange(queue, 0, -1, 'WITHSCORES')).toEqual(scored.slice(4));
    await h.store.swarmReset(swarmKey());
    expect(await h.store.redis.zrange(queue, 0, -1, 'WITHSCORES')).toEqual(scored);
    expect(await h.store.redis.hget(state, `rank:${key('c')}`)).toBe('2');
    expect((await h.keysWithTtl()).get(queue)).toBeGreaterThan(0);
  });

  it('claims by the status copy in the swarm state, which follows every status change of the record', async () => {
    await h.store.createRecords([swarm({ status: 'pending' })], { ttlSec: TTL, track: true });
    await h.store.swarmAdd(swarmKey(), [key('a'), key('b')], { ttlSec: TTL });
    const state = h.store.keys.swarm(swarmKey()).state;
    expect(await h.store.redis.hget(state, 'status')).toBe('"pending"');
    expect(await h.store.swarmClaim(swarmKey(), claim(1))).toEqual([]);
    await h.store.updateRecord(swarmKey(), { set: { status: 'active' } });
    expect(await h.store.redis.hget(state, 'status')).toBe('"active"');
    expect((await h.store.swarmClaim(swarmKey(), claim(1))).map((c) => c.key)).toEqual([key('a')]);
    await h.store.updateRecord(swarmKey(), { set: { status: 'suspended' } });
    expect(await h.store.swarmFinish(swarmKey(), key('a'), { ok: true, result: 1 }, claim(1))).toMatchObject({ counted: true, claimed: [] });
  });

  it('a lock taken before its record exists blocks the record from the start; unlocking removes the mark', async () => {
    expect(await h.store.lock(key('a'), 'h1', 5000)).toBe(true);
    await h.store.createRecords([record(key('a'))], { ttlSec: TTL, track: false });
    expect(await h.store.updateRecord(key('a'), { set: { status: 'active' } })).toMatchObject({ ok: false, reason: 'locked' });
    expect(await h.store.getRecord(key('a'))).toEqual(expect.not.objectContaining({ '#lock': expect.anything() }));
    await h.store.unlock(key('a'), 'h1');
    expect(await h.store.redis.hexists(h.store.keys.record(key('a')), '#lock')).toBe(0);
    expect((await h.store.updateRecord(key('a'), { set: { status: 'active' } })).ok).toBe(true);
  });
});
