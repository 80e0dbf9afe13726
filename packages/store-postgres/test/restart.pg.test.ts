/**
 * PostgreSQL restarted while workflows run. A private server is stopped as a crash
 * would stop it (`pg_ctl -m immediate`) and started again mid-run: calls made while
 * it is down fail with StoreUnavailableError; afterwards the workflows finish,
 * counted exactly, and no half-written state is left (every record ended, no slot
 * held, nothing queued, every row with a time to live).
 */
import { InProcessEngine, Mageflow, StoreUnavailableError } from '@mageflow/core';
import { Recorder, delay, waitUntil } from '@mageflow/testing';
import { PostgresStore } from '../src';
import { postgresBinaries, PrivateServer } from './private-server';

const bin = postgresBinaries();
if (!bin && process.env.CI) throw new Error('initdb and pg_ctl are required in CI for the PostgreSQL restart test');
if (!bin) console.warn('\n*** SKIPPING the PostgreSQL restart test: no initdb/pg_ctl on this machine ***\n');
const suite = bin ? describe : describe.skip;

suite('PostgreSQL restarted while workflows run', () => {
  let server: PrivateServer | undefined;

  afterAll(() => server?.destroy());

  it('calls fail clearly while it is down; the workflows then finish with nothing lost, doubled or half-written', async () => {
    server = new PrivateServer(bin!);
    server.start();
    const store = new PostgresStore({ connectionString: server.url, schema: 'mf_restart' });
    const stops: (() => Promise<unknown>)[] = [() => store.close()];
    try {
      await scenario(server, store, stops);
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    }
  }, 120_000);

  async function scenario(server: PrivateServer, store: PostgresStore, stops: (() => Promise<unknown>)[]) {
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

    server.crash();
    let downError: unknown;
    await store.getRecord(swarm.key).catch((e) => (downError = e));
    expect(downError).toBeInstanceOf(StoreUnavailableError);
    expect(String((downError as Error).message)).toMatch(/PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres is unavailable: /);
    await delay(300);
    server.start();

    const swarmResult = (await waitUntil(async () => ((await store.getRecord(swarm.key))?.status === 'done' ? (await store.getRecord(swarm.key))!.result!.value : undefined), 'the swarm to finish', 60_000).catch(async (error) => {
      const slots = await store.swarmRunning(swarm.key);
      const members = await store.getRecords(slots.map((s) => s.member));
      const state = { me: mf.workerId, counts: await store.swarmCounts(swarm.key), swarm: (await store.getRecord(swarm.key))?.status, slots: slots.map((s, i) => ({ ...s, status: members[i]?.status, runId: members[i]?.runId, runner: members[i]?.worker })), problems: problems.slice(-8) };
      throw new Error(`${(error as Error).message}\n${JSON.stringify(state, null, 1)}`);
    })) as number[];
    const chainResult = await waitUntil(async () => ((await store.getRecord(chain.key))?.status === 'done' ? (await store.getRecord(chain.key))!.result!.value : undefined), 'the chain to finish', 60_000).catch(async (error) => {
      const state = { me: mf.workerId, chain: (await store.getRecord(chain.key))?.status, counts: await store.swarmCounts(chain.key), slots: await store.swarmRunning(chain.key), problems: problems.slice(-8) };
      throw new Error(`${(error as Error).message}\n${JSON.stringify(state, null, 1)}`);
    });
    expect(chainResult).toBe(40);
    await waitUntil(() => rec.count('swarm-done') === 1 && rec.count('chain-done') === 1, 'both callbacks', 20_000);
    await delay(500);
    console.log(`[restart] failures seen while PostgreSQL was down: ${failures.length} runs, ${problems.length} logged problems`);

    expect(swarmResult).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(rec.values('swarm-done')).toEqual([300]);
    expect(rec.values('chain-done')).toEqual([40]);
    expect(await store.swarmCounts(swarm.key)).toEqual({ total: 300, queued: 0, running: 0, done: 300, failed: 0, closed: true });

    // nothing half-written: every record has ended, no member is queued or holds a slot
    const { rows } = await store.pool.query<{ key: string; status: string }>(`SELECT key, body->>'status' AS status FROM mf_restart.record WHERE expires_at > now()`);
    expect(rows.filter((r) => r.status !== '"done"').map((r) => `${r.key} ${r.status}`)).toEqual([]);
    const { rows: members } = await store.pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM mf_restart.member WHERE state <> 0`);
    expect(members[0]!.n).toBe(0);
  }
});
