/**
 * The claim cursor (migration 3): a claim scans a swarm's queue from where the last one
 * stopped, so it never steps over the index entries of members claimed before (which
 * stay until VACUUM). These tests hold it to the queue's order: every way a member is
 * queued below the cursor lowers it, and a member left below it by a step it did not
 * see is still claimed.
 */
import type { Claimed } from '@mageflow/core';
import { record } from '@mageflow/testing';
import { postgresOrSkip, storeIn, uniqueSchema } from './postgres';

const available = postgresOrSkip();
const suite = available ? describe : describe.skip;
const TTL = 3600;
const SWARM = 'swarm:cursor';
const claim = (limit: number) => ({ maxConcurrency: 10_000, whenStatus: ['active' as const], worker: 'w1', ttlSec: TTL, limit });
const keysOf = (claimed: readonly Claimed[]) => claimed.map((c) => c.key);
const members = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `task:m${from + i}`);

suite('the claim cursor', () => {
  let h: ReturnType<typeof storeIn>;
  let S: string;
  const cursor = async () => {
    const { rows } = await h.store.pool.query(`SELECT claim_level AS level, claim_seq::integer AS seq FROM ${S}.swarm WHERE key = $1`, [SWARM]);
    return rows[0] as { level: number; seq: number };
  };

  beforeEach(async () => {
    h = storeIn(uniqueSchema('cursor'));
    S = `"${h.schema}"`;
    await h.store.createRecords([record(SWARM, { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: false });
    await h.store.swarmAdd(SWARM, members(1, 300), { ttlSec: TTL });
  });
  afterEach(() => h.cleanup());

  it('moves to the last place taken, so a claim scans only the members still queued', async () => {
    for (let i = 0; i < 5; i++) expect(keysOf(await h.store.swarmClaim(SWARM, claim(40)))).toEqual(members(40 * i + 1, 40 * i + 40));
    expect(await cursor()).toEqual({ level: 1, seq: 200 });
    // the scan starts at the cursor in the queue's index
    const { rows } = await h.store.pool.query(
      `EXPLAIN (ANALYZE, COSTS OFF) SELECT member FROM ${S}.member WHERE swarm = $1 AND state = 1 AND (level, seq) >= (1::smallint, 200::bigint) ORDER BY level, seq LIMIT 10`,
      [SWARM],
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Cond: .*ROW\(level, seq\) >= ROW/);
  });

  it('a member queued below it (a higher priority, a priority change, a reset) is claimed in its place', async () => {
    await h.store.swarmClaim(SWARM, claim(100));
    await h.store.swarmAdd(SWARM, ['task:urgent'], { ttlSec: TTL, priorities: ['high'] });
    expect(await cursor()).toEqual({ level: 0, seq: 301 });
    expect(keysOf(await h.store.swarmClaim(SWARM, claim(2)))).toEqual(['task:urgent', 'task:m101']);

    expect(await h.store.swarmSetPriority(SWARM, 'task:m250', 'high')).toBe(true);
    expect(keysOf(await h.store.swarmClaim(SWARM, claim(2)))).toEqual(['task:m250', 'task:m102']);

    await h.store.swarmAdd(SWARM, ['task:late'], { ttlSec: TTL, priorities: ['low'] });
    await h.store.swarmReset(SWARM);
    // the reset queue: every member at its first place and priority; the cursor at the lowest
    expect(await cursor()).toEqual({ level: 0, seq: 250 });
    expect(keysOf(await h.store.swarmClaim(SWARM, claim(3)))).toEqual(['task:m250', 'task:urgent', 'task:m1']);
    const rest = keysOf(await h.store.swarmClaim(SWARM, claim(1000)));
    expect(rest).toEqual([...members(2, 300).filter((k) => k !== 'task:m250'), 'task:late']);
  });

  it('a member ended and added again is queued at its new place, past the cursor', async () => {
    await h.store.swarmClaim(SWARM, claim(10));
    await h.store.swarmFinish(SWARM, 'task:m3', { ok: true, result: 3 }, claim(0));
    await h.store.swarmAdd(SWARM, ['task:m3'], { ttlSec: TTL });
    const rest = keysOf(await h.store.swarmClaim(SWARM, claim(1000)));
    expect(rest).toEqual([...members(11, 300), 'task:m3']);
  });

  it('a member left below it by a step it did not see is still claimed, once the queue past the cursor runs out', async () => {
    await h.store.swarmClaim(SWARM, claim(100));
    // put a claimed member back in the queue behind the cursor's back
    await h.store.pool.query(`ALTER TABLE ${S}.member DISABLE TRIGGER member_queued_update`);
    await h.store.pool.query(`UPDATE ${S}.member SET state = 1, worker = NULL WHERE swarm = $1 AND member = 'task:m5'`, [SWARM]);
    await h.store.pool.query(`UPDATE ${S}.swarm SET queued = queued + 1, running = running - 1 WHERE key = $1`, [SWARM]);
    await h.store.pool.query(`ALTER TABLE ${S}.member ENABLE TRIGGER member_queued_update`);
    const claimed: string[] = [];
    for (let i = 0; i < 10 && claimed.length < 201; i++) claimed.push(...keysOf(await h.store.swarmClaim(SWARM, claim(150))));
    expect(claimed.sort()).toEqual([...members(101, 300), 'task:m5'].sort());
    expect((await h.store.swarmCounts(SWARM)).queued).toBe(0);
  });
});
