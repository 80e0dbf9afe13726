/**
 * Two OS processes, each with its own Mageflow runtime and in-process engine, work
 * one swarm on the same PostgreSQL schema. The cap holds, every member runs once, the callback
 * fires once; and when one process is SIGKILLed midway, the survivor finishes the
 * swarm with nothing lost or doubled.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { InProcessEngine, Mageflow } from '@mageflow/core';
import { waitUntil } from '@mageflow/testing';
import { DATABASE_URL, postgresOrSkip, storeIn, uniqueSchema } from './postgres';

const available = postgresOrSkip();
const suite = available ? describe : describe.skip;
const MEMBERS = 2000;
const CAP = 20;

suite('two worker processes on one swarm (PostgreSQL)', () => {
  let h: ReturnType<typeof storeIn>;
  let schema: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    schema = uniqueSchema('race');
    h = storeIn(schema);
    await h.store.migrate();
    await h.store.pool.query(`CREATE TABLE "${schema}".test_log (id bigserial PRIMARY KEY, list text NOT NULL, value text NOT NULL)`);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await h.cleanup();
  });

  async function createSwarm(members = MEMBERS): Promise<string> {
    const mf = new Mageflow({ store: h.store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    mf.task('member', async () => null);
    mf.task('done', async () => null);
    const swarm = await mf.swarm([], { config: { maxConcurrency: CAP }, success: 'done' });
    await swarm.addTasks(Array.from({ length: members }, (_, i) => ({ task: 'member', kwargs: { i } })));
    await swarm.close();
    return swarm.key;
  }

  function worker(name: string, swarm: string, start: boolean, chaos = false): ChildProcess {
    const child = fork(join(__dirname, 'fixtures/swarm-worker.ts'), [], {
      cwd: join(__dirname, '..'),
      execArgv: ['--conditions=@mageflow/source', '--import', 'tsx'],
      env: { ...process.env, DATABASE_URL, SCHEMA: schema, SWARM: swarm, NAME: name, START: start ? '1' : '0', SLOTS: '10', CHAOS: chaos ? '1' : '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    return child;
  }

  /** Samples the swarm's running count in PostgreSQL until stopped; returns the largest seen. */
  function monitor(swarm: string) {
    let max = 0;
    let stop = false;
    const done = (async () => {
      while (!stop) {
        max = Math.max(max, (await h.store.swarmRunning(swarm)).length);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    return { stop: async () => ((stop = true), await done, max) };
  }

  const list = async (name: string) =>
    (await h.store.pool.query<{ value: string }>(`SELECT value FROM "${schema}".test_log WHERE list = $1 ORDER BY id`, [name])).rows.map((r) => r.value);
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));

  it('never exceeds the cap; every member runs exactly once; the callback fires once', async () => {
    const swarm = await createSwarm();
    const watch = monitor(swarm);
    const a = worker('A', swarm, true);
    const b = worker('B', swarm, false);
    await Promise.all([exited(a), exited(b)]);
    const maxRunning = await watch.stop();
    console.log(`[races] ${MEMBERS} members at maxConcurrency ${CAP} across 2 processes: max running seen in PostgreSQL = ${maxRunning}`);

    const ended = await list('ended');
    const byMember = new Map<number, number>();
    for (const e of ended) byMember.set(Number(e.split(':')[1]), (byMember.get(Number(e.split(':')[1])) ?? 0) + 1);
    expect(byMember.size).toBe(MEMBERS);
    expect([...byMember.values()].filter((n) => n !== 1)).toEqual([]);
    const byWorker = (w: string) => ended.filter((e) => e.startsWith(`${w}:`)).length;
    expect(byWorker('A')).toBeGreaterThan(MEMBERS / 10); // both did a real share
    expect(byWorker('B')).toBeGreaterThan(MEMBERS / 10);
    expect(maxRunning).toBeLessThanOrEqual(CAP);
    expect(await list('callbacks')).toHaveLength(1);
    expect(await h.store.swarmCounts(swarm)).toEqual({ total: MEMBERS, queued: 0, running: 0, done: MEMBERS, failed: 0, closed: true });
    const results = (await h.store.getRecord(swarm))!.result!.value as number[];
    expect(results).toEqual(Array.from({ length: MEMBERS }, (_, i) => i));
  }, 120_000);

  it('suspend and resume fired over and over while members complete: nothing lost, nothing run twice', async () => {
    const swarm = await createSwarm(1000);
    const watch = monitor(swarm);
    const a = worker('A', swarm, true);
    const b = worker('B', swarm, false, true);
    await Promise.all([exited(a), exited(b)]);
    const maxRunning = await watch.stop();
    const chaos = await list('chaos');
    console.log(`[races] ${chaos.filter((c) => c === 'suspended').length} suspends and ${chaos.filter((c) => c === 'resumed').length} resumes during the run; max running ${maxRunning}`);
    expect(chaos.filter((c) => c === 'suspended').length).toBeGreaterThan(5);
    const ended = await list('ended');
    const byMember = new Map<number, number>();
    for (const e of ended) byMember.set(Number(e.split(':')[1]), (byMember.get(Number(e.split(':')[1])) ?? 0) + 1);
    expect(byMember.size).toBe(1000);
    expect([...byMember.values()].filter((n) => n !== 1)).toEqual([]);
    expect(maxRunning).toBeLessThanOrEqual(CAP);
    expect(await list('callbacks')).toHaveLength(1);
    expect(await h.store.swarmCounts(swarm)).toEqual({ total: 1000, queued: 0, running: 0, done: 1000, failed: 0, closed: true });
  }, 120_000);

  it('a process SIGKILLed midway: the survivor finishes the swarm, nothing lost or doubled', async () => {
    const swarm = await createSwarm();
    const watch = monitor(swarm);
    const a = worker('A', swarm, true);
    const b = worker('B', swarm, false);
    await waitUntil(async () => (await list('ended')).length >= MEMBERS / 3, 'a third of the members', 60_000);
    a.kill('SIGKILL');
    const killedAt = (await list('ended')).length;
    await exited(b);
    const maxRunning = await watch.stop();
    console.log(`[races] SIGKILL after ${killedAt} members; max running seen in PostgreSQL = ${maxRunning}`);

    const started = await list('started');
    const ended = await list('ended');
    const endedBy = new Map<number, string[]>();
    for (const e of ended) {
      const [w, i] = e.split(':');
      endedBy.set(Number(i), [...(endedBy.get(Number(i)) ?? []), w!]);
    }
    expect(endedBy.size).toBe(MEMBERS); // nothing lost
    // A body runs again only if it was in flight on the killed worker (at most its 10 slots).
    const twice = [...endedBy.entries()].filter(([, ws]) => ws.length > 1);
    expect(twice.length).toBeLessThanOrEqual(10);
    for (const [, ws] of twice) expect(ws).toEqual(['A', 'B']);
    expect(started.filter((s) => s.startsWith('B:')).length).toBeGreaterThan(0);
    expect(maxRunning).toBeLessThanOrEqual(CAP);
    expect(await list('callbacks')).toEqual([expect.stringMatching(/^B:2000$/)]);
    expect(await h.store.swarmCounts(swarm)).toEqual({ total: MEMBERS, queued: 0, running: 0, done: MEMBERS, failed: 0, closed: true });
    const results = (await h.store.getRecord(swarm))!.result!.value as number[];
    expect(results).toEqual(Array.from({ length: MEMBERS }, (_, i) => i));
  }, 120_000);
});
