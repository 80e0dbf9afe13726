/**
 * The PostgreSQL store under hostile conditions: corrupt rows, an unreachable server,
 * bad options, rows past their time to live.
 */
import { CorruptRecordError, InProcessEngine, InvalidArgumentError, Mageflow, StoreUnavailableError, TaskFailedError } from '@mageflow/core';
import { delay, record } from '@mageflow/testing';
import { PostgresStore } from '../src';
import { postgresOrSkip, storeIn, uniqueSchema } from './postgres';

const available = postgresOrSkip();
const suite = available ? describe : describe.skip;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const TTL = 3600;

suite('corrupt rows', () => {
  let h: ReturnType<typeof storeIn>;
  beforeEach(async () => {
    h = storeIn(uniqueSchema('corrupt'));
    await h.store.migrate();
  });
  afterEach(() => h.cleanup());

  it('a body that is not an object, or holds a field that is not an encoded value, is a typed error naming the key', async () => {
    const S = `"${h.schema}"`;
    await h.store.pool.query(`INSERT INTO ${S}.record (key, body, expires_at) VALUES ('task:scalar', '"a plain string"', now() + interval '1 hour')`);
    await h.store.pool.query(`INSERT INTO ${S}.record (key, body, expires_at) VALUES ('task:list', '[1, 2]', now() + interval '1 hour')`);
    await h.store.pool.query(`INSERT INTO ${S}.record (key, body, expires_at) VALUES ('task:raw', '{"key": {"not": "encoded"}}', now() + interval '1 hour')`);
    for (const key of ['task:scalar', 'task:list', 'task:raw']) {
      await expect(h.store.getRecord(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining(key) });
      const update = h.store.updateRecord(key, { set: { status: 'active' } });
      await expect(update).rejects.toBeInstanceOf(CorruptRecordError);
    }
    // nothing was written over them
    const { rows } = await h.store.pool.query(`SELECT body FROM ${S}.record WHERE key = 'task:scalar'`);
    expect(rows[0].body).toBe('a plain string');
  });

  it('a corrupt result in a swarm names the swarm and fails its wait() instead of hanging', async () => {
    const mf = new Mageflow({ store: h.store, engine: new InProcessEngine(), config: { sweepEveryMs: false, logger: quiet } });
    try {
      mf.task('m', async ({ i }: { i: number }) => (await delay(30), i));
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 4 }, (_, i) => ({ task: 'm', kwargs: { i } })), { config: { maxConcurrency: 2 } });
      await swarm.close();
      // a member counted with a result that is not JSON
      await h.store.pool.query(`UPDATE "${h.schema}".member SET state = 0, outcome = true, result = '{not json' WHERE swarm = $1 AND pos = 1`, [swarm.key]);
      await h.store.pool.query(`UPDATE "${h.schema}".swarm SET queued = queued - 1, done = done + 1 WHERE key = $1`, [swarm.key]);
      await swarm.runNoWait({});
      const error = await swarm.wait({ timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      expect((error as TaskFailedError).details.error).toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining(swarm.key) });
    } finally {
      await mf.stop();
    }
  }, 30_000);
});

suite('time to live', () => {
  let h: ReturnType<typeof storeIn>;
  beforeEach(async () => {
    h = storeIn(uniqueSchema('ttl'), { cleanupEveryMs: false, cleanupBatch: 100 });
    await h.store.migrate();
  });
  afterEach(() => h.cleanup());

  const count = async (table: string) => (await h.store.pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM "${h.schema}".${table}`)).rows[0]!.n;

  it('a row past its time to live is absent to every read and step, and its key can be created again', async () => {
    const swarm = record('task:s', { kind: 'swarm', status: 'active' });
    await h.store.createRecords([swarm, record('task:a')], { ttlSec: TTL, track: true });
    await h.store.swarmAdd(swarm.key, ['task:m1', 'task:m2'], { ttlSec: TTL });
    await h.store.lock('task:a', 'h1', 60_000);
    await h.store.expireRecords([swarm.key, 'task:a'], 1);
    await h.store.pool.query(`UPDATE "${h.schema}".lock SET expires_at = now() - interval '1 second'`);
    await delay(1200);
    expect(await h.store.getRecords([swarm.key, 'task:a'])).toEqual([null, null]);
    expect(await h.store.updateRecord('task:a', { set: { status: 'active' } })).toEqual({ ok: false, reason: 'missing' });
    expect(await h.store.swarmCounts(swarm.key)).toMatchObject({ total: 0 });
    expect(await h.store.swarmMembers(swarm.key)).toEqual([]);
    expect(await h.store.swarmClaim(swarm.key, { maxConcurrency: 5, whenStatus: ['active'], worker: 'w', ttlSec: TTL })).toEqual([]);
    expect((await h.store.listOpen(undefined, 100)).keys).toEqual([]);
    // the rows are still there until the cleanup; a new signature under the key starts afresh
    expect(await count('record')).toBe(2);
    await h.store.createRecords([swarm], { ttlSec: TTL, track: true });
    expect((await h.store.swarmAdd(swarm.key, ['task:m3'], { ttlSec: TTL })).counts).toMatchObject({ total: 1, queued: 1 });
    expect(await h.store.swarmMembers(swarm.key)).toEqual(['task:m3']);
    expect(await h.store.lock('task:a', 'h2', 1000)).toBe(true);
  });

  it('the cleanup deletes expired rows in bounded batches, a big swarm over several passes', async () => {
    const swarm = record('task:big', { kind: 'swarm', status: 'active' });
    const tasks = Array.from({ length: 250 }, (_, i) => record(`task:t${i}`));
    await h.store.createRecords([swarm, ...tasks], { ttlSec: TTL, track: true });
    await h.store.swarmAdd(swarm.key, Array.from({ length: 350 }, (_, i) => `task:big-${i}`), { ttlSec: TTL });
    await h.store.createRecords([record('task:kept')], { ttlSec: TTL, track: true });
    await h.store.heartbeat('w-gone', 1);
    await h.store.audit({ at: 1, action: 'cancel', key: 'task:t0', keys: ['task:t0'] }, 1);
    await h.store.expireRecords([swarm.key, ...tasks.map((t) => t.key)], 1);
    await delay(1200);
    // one pass: at most 100 records, at most 100 members
    expect(await h.store.cleanup()).toBeLessThanOrEqual(100 + 100 + 2);
    expect(await count('record')).toBe(252 - 100);
    expect(await count('member')).toBe(250);
    const rest = await h.store.cleanup(20);
    expect(rest).toBeGreaterThan(0);
    expect(await count('record')).toBe(1);
    expect(await count('member')).toBe(0);
    expect(await count('swarm')).toBe(0);
    expect(await count('worker')).toBe(0);
    expect(await count('audit')).toBe(0);
    expect((await h.store.getRecord('task:kept'))!.key).toBe('task:kept');
  });

  it('runs the cleanup on its own, and close() stops it', async () => {
    const own = storeIn(uniqueSchema('ttl_timer'), { cleanupEveryMs: 200 });
    try {
      await own.store.createRecords([record('task:a')], { ttlSec: 1, track: true });
      await delay(1500);
      const left = await own.store.pool.query(`SELECT count(*)::integer AS n FROM "${own.schema}".record`);
      expect(left.rows[0].n).toBe(0);
    } finally {
      await own.cleanup();
    }
  });
});

describe('PostgreSQL connection and naming', () => {
  it('an unreachable server is named with its reason, without the password', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://user:secret@127.0.0.1:1/db', cleanupEveryMs: false });
    try {
      const error = await store.getRecord('task:x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain('127.0.0.1:1');
      expect((error as Error).message).toMatch(/ECONNREFUSED|connect/);
      expect((error as Error).message).not.toContain('secret');
    } finally {
      await store.close();
    }
  });

  it('refuses schema names that need quoting, and bad options, before connecting', () => {
    for (const schema of ['a-b', 'x"; DROP SCHEMA public; --', '', '1abc', 'x'.repeat(64), 'sp ace']) {
      expect(() => new PostgresStore({ schema })).toThrow(InvalidArgumentError);
    }
    expect(() => new PostgresStore({ commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    expect(() => new PostgresStore({ cleanupEveryMs: -1 })).toThrow(/cleanupEveryMs/);
    expect(() => new PostgresStore({ cleanupBatch: 0 })).toThrow(/cleanupBatch/);
  });

  it('durableCommits: false runs the store\'s connections with synchronous_commit off and keeps every step; the default waits for the flush', async () => {
    if (!available) return;
    expect(() => new PostgresStore({ durableCommits: 'no' as never })).toThrow(InvalidArgumentError);
    const fast = storeIn(uniqueSchema('async'), { durableCommits: false });
    const durable = storeIn(uniqueSchema('durable'));
    try {
      // a foreign pool's settings are its owner's: refused rather than silently ignored
      expect(() => new PostgresStore({ pool: fast.store.pool, durableCommits: false })).toThrow(/durableCommits/);
      const setting = async (store: PostgresStore) => (await store.pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
      expect(await setting(fast.store)).toBe('off');
      expect(await setting(durable.store)).toBe('on');
      // the same steps, the same answers
      await fast.store.createRecords([record('task:a')], { ttlSec: TTL, track: true });
      expect((await fast.store.updateRecord('task:a', { set: { status: 'active' } })).ok).toBe(true);
      expect(await fast.store.getRecord('task:a')).toMatchObject({ status: 'active' });
    } finally {
      await fast.cleanup();
      await durable.cleanup();
    }
  });

  it('a closed store refuses calls with a typed error', async () => {
    if (!available) return;
    const h = storeIn(uniqueSchema('closed'));
    await h.cleanup();
    await expect(h.store.getRecord('task:x')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
