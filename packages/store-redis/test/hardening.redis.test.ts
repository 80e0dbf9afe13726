/**
 * The Redis store under hostile conditions: a frozen server (SIGSTOP), an
 * unreachable one, prefixes that could nest, corrupt swarm state.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { InProcessEngine, Mageflow, StoreUnavailableError, TaskFailedError } from '@mageflow/core';
import { Recorder, delay, uniqueId, waitUntil } from '@mageflow/testing';
import { RedisStore } from '../src';
import { redisOrSkip, storeUnder } from './redis';

const available = redisOrSkip();
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedisServer && process.env.CI) throw new Error('redis-server is required in CI for the frozen-Redis test');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

(hasRedisServer ? describe : describe.skip)('a frozen Redis (SIGSTOP)', () => {
  const port = 17_379 + Math.floor(Math.random() * 1000);
  let server: ChildProcess | undefined;

  afterAll(() => {
    if (server && server.exitCode === null) {
      server.kill('SIGCONT');
      server.kill('SIGKILL');
    }
  });

  it('calls fail within the command timeout with StoreUnavailableError; the workflow then finishes exactly', async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitUntil(() => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 'redis-server to answer', 10_000, 50);
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'mf-frozen', commandTimeoutMs: 300 });
    const warnings: string[] = [];
    const logger = { ...quiet, warn: (message: string) => void warnings.push(message) };
    const mf = new Mageflow({ store, engine: new InProcessEngine(), config: { sweepEveryMs: 300, heartbeatMs: 100, workerTtlMs: 5000, logger } });
    const rec = new Recorder();
    try {
      mf.task('m', async ({ i }: { i: number }) => (await delay(20), rec.record('m', i), i));
      mf.task('done', async (results: number[]) => void rec.record('done', results.length));
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 60 }, (_, i) => ({ task: 'm', kwargs: { i } })), { config: { maxConcurrency: 5 }, success: 'done' });
      await swarm.close();
      await swarm.runNoWait({});
      await waitUntil(() => rec.count('m') >= 10, 'some members to run');
      server.kill('SIGSTOP');
      const started = Date.now();
      await expect(store.getRecord(swarm.key)).rejects.toBeInstanceOf(StoreUnavailableError);
      const waited = Date.now() - started;
      expect(waited).toBeLessThan(3000); // bounded: the call did not hang on the frozen server
      await delay(500);
      server.kill('SIGCONT');
      expect(await swarm.wait({ timeoutMs: 30_000 })).toHaveLength(60);
      await waitUntil(() => rec.count('done') === 1, 'the swarm callback', 20_000);
      await delay(500);
      expect(rec.values('done')).toEqual([60]);
      expect(new Set(rec.values('m')).size).toBe(60);
      expect(await store.swarmCounts(swarm.key)).toMatchObject({ total: 60, done: 60, failed: 0, running: 0, queued: 0 });
      // several beats failed during the freeze: the loss is logged once for the outage
      expect(warnings.filter((w) => w.startsWith('heartbeat failed'))).toHaveLength(1);
    } finally {
      server.kill('SIGCONT');
      await mf.close().catch(() => undefined);
    }
  }, 90_000);
});

describe('Redis connection and naming', () => {
  it('an unreachable Redis is named with its reason, and ioredis prints no unhandled error events', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
    const store = new RedisStore({ url: 'redis://user:secret@127.0.0.1:1', redisOptions: { maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 3 ? null : 20) } });
    try {
      const error = await store.getRecord('task:x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain('127.0.0.1:1');
      expect((error as Error).message).toMatch(/ECONNREFUSED|connect/);
      expect((error as Error).message).not.toContain('secret');
      await delay(200);
      expect(printed.filter((p) => /Unhandled error event/.test(p))).toEqual([]);
    } finally {
      spy.mockRestore();
      await store.close();
    }
  });

  it('refuses prefixes that could nest or hold odd characters', () => {
    for (const prefix of ['a:b', 'X:rec:zz', '', 'sp ace', 'x'.repeat(101)]) {
      expect(() => new RedisStore({ prefix, redisOptions: { lazyConnect: true } })).toThrow(/prefix/);
    }
    expect(() => new RedisStore({ commandTimeoutMs: 0, redisOptions: { lazyConnect: true } })).toThrow(/commandTimeoutMs/);
  });
});

(available ? describe : describe.skip)('corrupt swarm state', () => {
  it('names the swarm and fails its wait() instead of hanging', async () => {
    const h = storeUnder(uniqueId('mf-test-hard'));
    const mf = new Mageflow({ store: h.store, engine: new InProcessEngine(), config: { sweepEveryMs: false, logger: quiet } });
    try {
      mf.task('m', async ({ i }: { i: number }) => (await delay(30), i));
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 4 }, (_, i) => ({ task: 'm', kwargs: { i } })), { config: { maxConcurrency: 2 } });
      await swarm.close();
      await h.store.redis.set(h.store.keys.swarm(swarm.key).results, 'a foreign value');
      await swarm.runNoWait({});
      const error = await swarm.wait({ timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      expect((error as TaskFailedError).details.error).toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining(swarm.key) });
    } finally {
      await mf.stop();
      await h.cleanup();
    }
  }, 30_000);
});
