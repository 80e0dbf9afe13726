/**
 * Redis losing its data while workflows run, on a private redis-server (so FLUSHALL
 * touches nobody else's keys): a FLUSHALL repeated mid-run, then a kill and restart
 * without persistence. PostgreSQL holds everything, so the chain and the swarm finish
 * with every result, every count and every callback exactly once; while Redis only
 * lost its data (up all along) no task body runs twice either.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { InProcessEngine, Mageflow, StoreUnavailableError } from '@mageflow/core';
import { Recorder, delay, waitUntil } from '@mageflow/testing';
import { DATABASE_URL, dropSchema, uniqueSchema } from '../../store-postgres/test/postgres';
import { TierStore } from '../src';
import { servicesOrSkip } from './tier';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedisServer && process.env.CI) throw new Error('redis-server is required in CI for the tier flush test');
if (!hasRedisServer) console.warn('\n*** SKIPPING the tier flush test: no redis-server binary on PATH ***\n');
const suite = hasRedisServer && servicesOrSkip() ? describe : describe.skip;

suite('Redis losing its data under the tier', () => {
  const port = 17_379 + Math.floor(Math.random() * 1000);
  let server: ChildProcess | undefined;
  const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();

  async function startServer() {
    // no persistence: a restart comes back empty
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitUntil(() => cli('ping') === 'PONG', 'redis-server to answer', 10_000, 50);
  }
  async function killServer() {
    const exited = new Promise((r) => server!.once('exit', r));
    server!.kill('SIGKILL');
    await exited;
  }

  afterAll(async () => {
    if (server && server.exitCode === null) await killServer();
  });

  it('a FLUSHALL mid-run, then a restart without persistence, lose nothing and double nothing', async () => {
    await startServer();
    const schema = uniqueSchema('tflush');
    const store = new TierStore({ postgres: { connectionString: DATABASE_URL, schema, poolOptions: { max: 6 } }, redis: { url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 1000 } });
    const engine = new InProcessEngine();
    const runFailures: string[] = [];
    engine.onOutcome = (o) => void (o.status === 'failed' && runFailures.push(String((o as { error?: unknown }).error)));
    // what the runtime reports: a step PostgreSQL failed (a busy shared server) may rightly run a body again
    const problems: string[] = [];
    const note = (m: string, f?: unknown) => void problems.push(`${m} ${JSON.stringify(f)}`);
    const mf = new Mageflow({ store, engine, config: { sweepEveryMs: 300, heartbeatMs: 100, workerTtlMs: 5000, logger: { debug() {}, info() {}, warn: note, error: note } } });
    const rec = new Recorder();
    let polling = true;
    let poll: Promise<void> = Promise.resolve();
    try {
      mf.task('member', async ({ i }: { i: number }) => (rec.record('member', i), await delay(4), i));
      mf.task('step', async (n: number) => (rec.record('step', n), await delay(6), n + 1));
      mf.task('swarm-done', async (r: number[]) => void rec.record('swarm-done', r.length));
      mf.task('chain-done', async (n: number) => void rec.record('chain-done', n));
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 200 }, (_, i) => ({ task: 'member', kwargs: { i } })), { config: { maxConcurrency: 8 }, success: 'swarm-done' });
      await swarm.close();
      const chain = await mf.chain(Array.from({ length: 30 }, () => 'step'), { success: 'chain-done' });
      const keys = [swarm.key, chain.key, ...(await store.swarmMembers(swarm.key)), ...(await store.swarmMembers(chain.key))];
      // a dashboard polling the live records keeps Redis full of entries to lose
      poll = (async () => {
        while (polling) await Promise.all([store.getRecords(keys).catch(() => undefined), delay(10)]);
      })();
      await swarm.runNoWait({});
      await chain.runNoWait(0);

      // Redis up all along, its data gone twice
      await waitUntil(async () => (await store.swarmCounts(swarm.key)).done >= 40, 'a fifth of the swarm', 30_000);
      const hitsBefore = store.stats.hits;
      expect(Number(cli('dbsize'))).toBeGreaterThan(0);
      expect(cli('flushall')).toBe('OK');
      await waitUntil(async () => (await store.swarmCounts(swarm.key)).done >= 80, 'two fifths of the swarm', 30_000);
      expect(cli('flushall')).toBe('OK');
      await waitUntil(async () => (await store.swarmCounts(swarm.key)).done >= 120, 'three fifths of the swarm', 30_000);
      expect(store.stats.hits).toBeGreaterThan(hitsBefore); // the cache filled again and served reads between the flushes
      // no body ran twice so far: losing Redis's data fails no step (unless PostgreSQL itself failed one)
      const postgresTrouble = [...problems, ...runFailures].filter((p) => /PostgreSQL/.test(p));
      if (postgresTrouble.length > 0) {
        console.log(`[flush] PostgreSQL failed ${postgresTrouble.length} steps meanwhile (${postgresTrouble[0]!.slice(0, 200)}): runs may repeat, not checked`);
      } else {
        expect(rec.values('member').length).toBe(new Set(rec.values('member')).size);
        expect(rec.values('step').length).toBe(new Set(rec.values('step')).size);
      }

      // then Redis restarts empty: writes fail while it is down, the sweep repairs after
      await killServer();
      const downError = await store.updateRecord(chain.key, { set: {} }).catch((e: unknown) => e);
      expect(downError).toBeInstanceOf(StoreUnavailableError);
      await delay(300);
      await startServer();

      const swarmResult = await waitUntil(async () => {
        const r = await store.getRecord(swarm.key);
        return r?.status === 'done' ? r.result!.value : undefined;
      }, 'the swarm to finish', 90_000);
      const chainResult = await waitUntil(async () => {
        const r = await store.getRecord(chain.key);
        return r?.status === 'done' ? r.result!.value : undefined;
      }, 'the chain to finish', 90_000);
      await waitUntil(() => rec.count('swarm-done') === 1 && rec.count('chain-done') === 1, 'both callbacks', 30_000);
      polling = false;
      await poll;
      await delay(500);

      expect(swarmResult).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(chainResult).toBe(30);
      expect(rec.values('swarm-done')).toEqual([200]);
      expect(rec.values('chain-done')).toEqual([30]);
      expect(await store.swarmCounts(swarm.key)).toEqual({ total: 200, queued: 0, running: 0, done: 200, failed: 0, closed: true });
      expect(new Set(rec.values('member')).size).toBe(200);
      expect(new Set(rec.values('step')).size).toBe(30);
      // every record ended, as PostgreSQL holds it and as the tier reads it
      const records = await store.getRecords(keys);
      expect(records.filter((r) => r?.status !== 'done').map((r) => `${r?.key} ${r?.status}`)).toEqual([]);
      expect(await store.postgres.getRecords(keys)).toEqual(records);
    } finally {
      polling = false;
      await poll;
      await mf.stop().catch(() => undefined);
      await store.close();
      await dropSchema(schema);
    }
  }, 240_000);
});
