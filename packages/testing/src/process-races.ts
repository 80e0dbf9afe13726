/**
 * Two OS processes, each with its own Mageflow runtime and in-process engine, work
 * one swarm on the same shared store. The cap holds, every member runs once, the
 * callback fires once; suspend and resume fired over and over lose nothing; and when
 * one process is SIGKILLed midway, the survivor finishes the swarm with nothing lost
 * or doubled.
 *
 * A store package runs it with a worker script of its own that opens the store and
 * hands it to `runRaceWorker` (`@mageflow/testing/race-worker`: no jest in there);
 * the suite forks that script twice per case.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { InProcessEngine, Mageflow, type Store } from '@mageflow/core';
import { waitUntil } from './helpers';

const MEMBERS = 2000;
const CAP = 20;
/** each worker's engine slots: a killed worker had at most this many bodies in flight. */
const SLOTS = 10;

/** One case's store, and a shared list the workers append to (see `RaceLog`). */
export interface RaceHarness {
  store: Store;
  /** the values appended to a list, in order. */
  list(name: string): Promise<string[]>;
  /** what a worker needs in its environment to open the same store and lists. */
  workerEnv: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface ProcessRacesOptions {
  /** the store's name in the suite's title and its log lines ("Redis"). */
  name: string;
  setup(): Promise<RaceHarness>;
  /** the worker script: opens the store from its environment and calls `runRaceWorker`. */
  workerScript: string;
  /** the script's working directory and node flags (e.g. a TypeScript loader). */
  cwd: string;
  execArgv: string[];
}

export function describeProcessRaces(options: ProcessRacesOptions): void {
  describe(`two worker processes on one swarm (${options.name})`, () => {
    let h: RaceHarness;
    const children: ChildProcess[] = [];

    beforeEach(async () => {
      h = await options.setup();
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
      const child = fork(options.workerScript, [], {
        cwd: options.cwd,
        execArgv: options.execArgv,
        env: { ...process.env, ...h.workerEnv, SWARM: swarm, NAME: name, START: start ? '1' : '0', SLOTS: String(SLOTS), CHAOS: chaos ? '1' : '0' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      return child;
    }

    /** Samples the swarm's running count in the store until stopped; returns the largest seen. */
    function monitor(swarm: string) {
      let max = 0;
      let stop = false;
      const done = (async () => {
        while (!stop) {
          max = Math.max(max, (await h.store.swarmRunning(swarm)).length);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      // a case that failed early stops watching when its store closes; its own error is the one to report
      done.catch(() => (stop = true));
      return { stop: async () => ((stop = true), await done, max) };
    }

    const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));
    /** worker names per member index, from the `ended` list ("A:17"). */
    async function endedBy(): Promise<Map<number, string[]>> {
      const by = new Map<number, string[]>();
      for (const e of await h.list('ended')) {
        const [w, i] = e.split(':');
        by.set(Number(i), [...(by.get(Number(i)) ?? []), w!]);
      }
      return by;
    }
    const resultsOf = async (swarm: string) => (await h.store.getRecord(swarm))!.result!.value as number[];

    it('never exceeds the cap; every member runs exactly once; the callback fires once', async () => {
      const swarm = await createSwarm();
      const watch = monitor(swarm);
      const a = worker('A', swarm, true);
      const b = worker('B', swarm, false);
      await Promise.all([exited(a), exited(b)]);
      const maxRunning = await watch.stop();
      console.log(`[races] ${MEMBERS} members at maxConcurrency ${CAP} across 2 processes: max running seen in ${options.name} = ${maxRunning}`);

      const by = await endedBy();
      expect(by.size).toBe(MEMBERS);
      expect([...by.values()].filter((ws) => ws.length !== 1)).toEqual([]);
      const share = (w: string) => [...by.values()].filter(([only]) => only === w).length;
      expect(share('A')).toBeGreaterThan(MEMBERS / 10); // both did a real share
      expect(share('B')).toBeGreaterThan(MEMBERS / 10);
      expect(maxRunning).toBeLessThanOrEqual(CAP);
      expect(await h.list('callbacks')).toHaveLength(1);
      expect(await h.store.swarmCounts(swarm)).toEqual({ total: MEMBERS, queued: 0, running: 0, done: MEMBERS, failed: 0, closed: true });
      expect(await resultsOf(swarm)).toEqual(Array.from({ length: MEMBERS }, (_, i) => i));
    }, 300_000);

    it('suspend and resume fired over and over while members complete: nothing lost, nothing run twice', async () => {
      const swarm = await createSwarm(1000);
      const watch = monitor(swarm);
      const a = worker('A', swarm, true);
      const b = worker('B', swarm, false, true);
      await Promise.all([exited(a), exited(b)]);
      const maxRunning = await watch.stop();
      const chaos = await h.list('chaos');
      console.log(`[races] ${chaos.filter((c) => c === 'suspended').length} suspends and ${chaos.filter((c) => c === 'resumed').length} resumes during the run; max running ${maxRunning}`);
      expect(chaos.filter((c) => c === 'suspended').length).toBeGreaterThan(5);
      const by = await endedBy();
      expect(by.size).toBe(1000);
      expect([...by.values()].filter((ws) => ws.length !== 1)).toEqual([]);
      expect(maxRunning).toBeLessThanOrEqual(CAP);
      expect(await h.list('callbacks')).toHaveLength(1);
      expect(await h.store.swarmCounts(swarm)).toEqual({ total: 1000, queued: 0, running: 0, done: 1000, failed: 0, closed: true });
    }, 300_000);

    it('a process SIGKILLed midway: the survivor finishes the swarm, nothing lost or doubled', async () => {
      const swarm = await createSwarm();
      const watch = monitor(swarm);
      const a = worker('A', swarm, true);
      const b = worker('B', swarm, false);
      await waitUntil(async () => (await h.list('ended')).length >= MEMBERS / 3, 'a third of the members', 150_000);
      a.kill('SIGKILL');
      const killedAt = (await h.list('ended')).length;
      await exited(b);
      const maxRunning = await watch.stop();
      console.log(`[races] SIGKILL after ${killedAt} members; max running seen in ${options.name} = ${maxRunning}`);

      const by = await endedBy();
      expect(by.size).toBe(MEMBERS); // nothing lost
      // A body runs again only if it was in flight on the killed worker (at most its slots).
      const twice = [...by.entries()].filter(([, ws]) => ws.length > 1);
      expect(twice.length).toBeLessThanOrEqual(SLOTS);
      for (const [, ws] of twice) expect(ws).toEqual(['A', 'B']);
      expect((await h.list('started')).filter((s) => s.startsWith('B:')).length).toBeGreaterThan(0);
      expect(maxRunning).toBeLessThanOrEqual(CAP);
      expect(await h.list('callbacks')).toEqual([`B:${MEMBERS}`]);
      expect(await h.store.swarmCounts(swarm)).toEqual({ total: MEMBERS, queued: 0, running: 0, done: MEMBERS, failed: 0, closed: true });
      expect(await resultsOf(swarm)).toEqual(Array.from({ length: MEMBERS }, (_, i) => i));
    }, 300_000);
  });
}
