/**
 * Redis restarted while workflows run. A private redis-server with an append-only
 * file (fsync always) is killed and started again mid-run: calls made while it is
 * down fail with StoreUnavailableError; afterwards the workflows finish, counted
 * exactly, and no half-written state is left (every record ended, no slot held,
 * nothing queued, every key with a TTL).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessEngine, Mageflow, StoreUnavailableError } from '@mageflow/core';
import { Recorder, delay, waitUntil } from '@mageflow/testing';
import { RedisStore } from '../src';
import { scan } from './redis';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedisServer && process.env.CI) throw new Error('redis-server is required in CI for the restart test');
if (!hasRedisServer) console.warn('\n*** SKIPPING the Redis restart test: no redis-server binary on PATH ***\n');
const suite = hasRedisServer ? describe : describe.skip;

suite('Redis restarted while workflows run', () => {
  const port = 16_379 + Math.floor(Math.random() * 1000);
  const dir = mkdtempSync(join(tmpdir(), 'mageflow-redis-'));
  let server: ChildProcess | undefined;

  async function startServer() {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
    await waitUntil(() => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 'redis-server to answer', 10_000, 50);
  }
  async function killServer() {
    const exited = new Promise((r) => server!.once('exit', r));
    server!.kill('SIGKILL');
    await exited;
  }

  afterAll(async () => {
    if (server && server.exitCode === null) await killServer();
    rmSync(dir, { recursive: true, force: true });
  });

  it('calls fail clearly while it is down; the workflows then finish with nothing lost, doubled or half-written', async () => {
    await startServer();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'mf-restart' });
    const stops: (() => Promise<unknown>)[] = [() => store.close()];
    try {
      await scenario(store, stops);
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    }
  }, 120_000);

  async function scenario(store: RedisStore, stops: (() => Promise<unknown>)[]) {
    const problems: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string, f?: unknown) => void problems.push(`${m} ${JSON.stringify(f)}`), error: (m: string, f?: unknown) => void problems.push(`${m} ${JSON.stringify(f)}`) };
    const engine = new InProcessEngine();
    const failures: unknown[] = [];
    engine.onOutcome = (o) => void (o.status === 'failed' && failures.push(o.error));
    const mf = new Mageflow({ store, engine, config: { sweepEveryMs: 300, heartbeatMs: 100, workerTtlMs: 5000, logger } });
    stops.push(() => mf.stop());
    const rec = new Recorder();
    mf.task('member', async ({ i }: { i: number }) => (await delay(3), i));
    mf.task('step', async (n: number) => (await delay(5), n + 1));
    mf.task('swarm-done', async (r: number[]) => void rec.record('swarm-done', r.length));
    mf.task('chain-done', async (n: number) => void rec.record('chain-done', n));
    await mf.start();

    const swarm = await mf.swarm(Array.from({ length: 300 }, (_, i) => ({ task: 'member', kwargs: { i } })), { config: { maxConcurrency: 10 }, success: 'swarm-done' });
    await swarm.close();
    const chain = await mf.chain(Array.from({ length: 40 }, () => 'step'), { success: 'chain-done' });
    await swarm.runNoWait({});
    await chain.runNoWait(0);
    await waitUntil(async () => (await store.swarmCounts(swarm.key)).done >= 80, 'a quarter of the swarm', 20_000);

    await killServer();
    let downError: unknown;
    await store.getRecord(swarm.key).catch((e) => (downError = e));
    expect(downError).toBeInstanceOf(StoreUnavailableError);
    expect(String((downError as Error).message)).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unavailable: .*ECONNREFUSED/);
    await delay(300);
    await startServer();

    const swarmResult = (await waitUntil(async () => ((await store.getRecord(swarm.key))?.status === 'done' ? (await store.getRecord(swarm.key))!.result!.value : undefined), 'the swarm to finish', 60_000).catch(async (error) => {
      // what is stuck, for the failure message
      const slots = await store.swarmRunning(swarm.key);
      const members = await store.getRecords(slots.map((s) => s.member));
      const state = { me: mf.workerId, counts: await store.swarmCounts(swarm.key), swarm: (await store.getRecord(swarm.key))?.status, slots: slots.map((s, i) => ({ ...s, status: members[i]?.status, runId: members[i]?.runId, runner: members[i]?.worker, message: members[i]?.message !== undefined })), problems: problems.slice(-8) };
      throw new Error(`${(error as Error).message}\n${JSON.stringify(state, null, 1)}`);
    })) as number[];
    const chainResult = await waitUntil(async () => ((await store.getRecord(chain.key))?.status === 'done' ? (await store.getRecord(chain.key))!.result!.value : undefined), 'the chain to finish', 60_000).catch(async (error) => {
      const record = (await store.getRecord(chain.key))!;
      const slots = await store.swarmRunning(chain.key);
      const running = await store.getRecords(slots.map((s) => s.member));
      const state = { me: mf.workerId, chain: record.status, counts: await store.swarmCounts(chain.key), slots, running, problems: problems.slice(-8) };
      throw new Error(`${(error as Error).message}\n${JSON.stringify(state, null, 1)}`);
    });
    expect(chainResult).toBe(40);
    await waitUntil(() => rec.count('swarm-done') === 1 && rec.count('chain-done') === 1, 'both callbacks', 20_000);
    await delay(500);
    console.log(`[restart] failures seen while Redis was down: ${failures.length} runs, ${problems.length} logged problems`);

    expect(swarmResult).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(rec.values('swarm-done')).toEqual([300]);
    expect(rec.values('chain-done')).toEqual([40]);
    expect(await store.swarmCounts(swarm.key)).toEqual({ total: 300, queued: 0, running: 0, done: 300, failed: 0, closed: true });

    // nothing half-written: every record under the prefix has ended, and every key has a TTL
    const keys = await scan(store.redis, 'mf-restart:*');
    for (const key of keys) expect([key, (await store.redis.ttl(key)) > 0]).toEqual([key, true]);
    const recordKeys = keys.filter((k) => k.startsWith('mf-restart:rec:')).map((k) => k.slice('mf-restart:rec:'.length));
    const records = await store.getRecords(recordKeys);
    expect(records.filter((r) => r && !['done'].includes(r.status)).map((r) => `${r!.key} ${r!.status}`)).toEqual([]);

  }
});
