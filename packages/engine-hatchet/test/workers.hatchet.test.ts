/**
 * Two worker processes on one Hatchet engine share a swarm of 200 members at
 * maxConcurrency 10; one is SIGKILLed midway. The swarm still completes with every
 * member counted once and its callback fired once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { InProcessEngine, Mageflow } from '@mageflow/core';
import { uniqueId, waitUntil } from '@mageflow/testing';
import { REDIS_URL, storeUnder } from '../../store-redis/test/redis';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;
const MEMBERS = 200;
const CAP = 10;

suite('two worker processes on one Hatchet engine', () => {
  const prefix = uniqueId('mf-hatchet-kill');
  const h = storeUnder(prefix);
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h.cleanup();
  });

  function worker(name: string, swarm: string, taskPrefix: string, start: boolean) {
    const child = fork(join(__dirname, 'fixtures/hatchet-worker.ts'), [], {
      cwd: join(__dirname, '..'),
      execArgv: ['--conditions=@mageflow/source', '--import', 'tsx', '--import', join(__dirname, '../../store-redis/test/fixtures/register-lua.mjs')],
      env: { ...process.env, REDIS_URL, PREFIX: prefix, TASK_PREFIX: taskPrefix, SWARM: swarm, NAME: name, START: start ? '1' : '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    return child;
  }
  const ready = (c: ChildProcess) => new Promise<void>((r) => c.once('message', () => r()));
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));
  const list = (name: string) => h.store.redis.lrange(`${prefix}:test:${name}`, 0, -1);

  it('a worker SIGKILLed midway: the swarm completes, every member counted once, the callback once', async () => {
    const mf = new Mageflow({ store: h.store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    mf.task('member', async () => null);
    mf.task('done', async () => null);
    const swarm = await mf.swarm(Array.from({ length: MEMBERS }, (_, i) => ({ task: 'member', kwargs: { i } })), { config: { maxConcurrency: CAP }, success: 'done' });
    await swarm.close();

    const taskPrefix = `${uniqueId('hk')}-`;
    const a = worker('A', swarm.key, taskPrefix, true);
    const b = worker('B', swarm.key, taskPrefix, false);
    await Promise.all([ready(a), ready(b)]);
    a.send('go');
    await waitUntil(async () => (await list('ended')).length >= MEMBERS / 3, 'a third of the members', 120_000, 50);
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await exited(b);
    console.log(`[hatchet workers] the survivor finished the swarm ${Math.round((Date.now() - killedAt) / 100) / 10} s after the SIGKILL`);

    const endedBy = new Map<number, string[]>();
    for (const e of await list('ended')) {
      const [w, i] = e.split(':');
      endedBy.set(Number(i), [...(endedBy.get(Number(i)) ?? []), w!]);
    }
    expect(endedBy.size).toBe(MEMBERS);
    const twice = [...endedBy.values()].filter((ws) => ws.length > 1);
    expect(twice.length).toBeLessThanOrEqual(CAP); // only bodies in flight on the killed worker run again
    expect(await list('callbacks')).toHaveLength(1);
    expect(await h.store.swarmCounts(swarm.key)).toEqual({ total: MEMBERS, queued: 0, running: 0, done: MEMBERS, failed: 0, closed: true });
    expect((await h.store.getRecord(swarm.key))!.result!.value).toEqual(Array.from({ length: MEMBERS }, (_, i) => i));
  }, 300_000);
});
