/**
 * Priority swarms: when a slot frees, the queued member of the highest priority
 * starts first, FIFO within a priority; a queued member's priority can change.
 * Part of the scenario suite.
 */
import { describe, expect, it } from '@jest/globals';
import type { Priority } from '@mageflow/core';
import type { ScenarioContext } from './hardening';

/** Task bodies that wait until the test lets them end, so which members hold the slots is exact. */
class Gate {
  readonly started: number[] = [];
  private waiting: (() => void)[] = [];
  running = 0;
  maxRunning = 0;

  async pass(n: number): Promise<number> {
    this.started.push(n);
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running -= 1;
    return n;
  }

  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

export function describePriority({ setup, until, wait, testTimeout }: ScenarioContext): void {
  describe('priority swarms', () => {
    it('at maxConcurrency 1, members start high, then medium, then low, each in the order added; the swarm default applies', async () => {
      const { mf, rec, task } = await setup();
      const work = task('work', (input: { n: number }) => input.n);
      await mf.start();
      // added low first: the worst order for a plain FIFO
      const members = [
        ...[0, 1, 2].map((n) => ({ task: work, kwargs: { n } })), // the swarm's default: low
        ...[3, 4, 5].map((n) => ({ task: work, kwargs: { n }, priority: 'medium' as const })),
        ...[6, 7, 8].map((n) => ({ task: work, kwargs: { n }, priority: 'high' as const })),
      ];
      const swarm = await mf.swarm(members, { config: { maxConcurrency: 1, defaultPriority: 'low' } });
      await swarm.close();
      expect(await swarm.run({}, { timeoutMs: wait })).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]); // results in the order added
      expect((rec.values('work') as { n: number }[]).map((i) => i.n)).toEqual([6, 7, 8, 3, 4, 5, 0, 1, 2]);
      const stored = await Promise.all((await mf.store.swarmMembers(swarm.key)).map(async (key) => (await mf.load(key))?.priority));
      expect(stored).toEqual(['low', 'low', 'low', 'medium', 'medium', 'medium', 'high', 'high', 'high']);
    }, testTimeout);

    it('at maxConcurrency 4, the four slots go to the highest priorities first, level by level', async () => {
      const { mf, task } = await setup();
      const gate = new Gate();
      const work = task('work', (input: { n: number }) => gate.pass(input.n));
      await mf.start();
      const level = (n: number): Priority => (n < 4 ? 'low' : n < 8 ? 'medium' : 'high');
      const swarm = await mf.swarm(
        Array.from({ length: 12 }, (_, n) => ({ task: work, kwargs: { n }, priority: level(n) })),
        { config: { maxConcurrency: 4 } },
      );
      await swarm.close();
      await swarm.runNoWait({});
      for (const [round, expected] of [[4, [8, 9, 10, 11]], [8, [4, 5, 6, 7]], [12, [0, 1, 2, 3]]] as const) {
        await until(() => gate.started.length === round && gate.running === 4, `${round} members started`);
        expect(gate.started.slice(round - 4).sort((a, b) => a - b)).toEqual(expected);
        gate.releaseAll();
      }
      expect(await swarm.wait({ timeoutMs: wait })).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(gate.maxRunning).toBe(4);
    }, testTimeout);

    it('a queued member can change priority, by the swarm or by key; a started one, a stranger or a bad priority is refused', async () => {
      const { mf, task } = await setup();
      const gate = new Gate();
      const work = task('work', (input: { n: number }) => gate.pass(input.n));
      await mf.start();
      const swarm = await mf.swarm([], { config: { maxConcurrency: 1 } });
      const blocker = await swarm.addTask(work, { kwargs: { n: 0 }, priority: 'high' });
      await swarm.runNoWait({});
      await until(() => gate.started.length === 1, 'the first member started');
      const a = await swarm.addTask(work, { kwargs: { n: 1 }, priority: 'low' });
      const [b, c] = await swarm.addTasks([{ task: work, kwargs: { n: 2 }, priority: 'low' }, { task: work, kwargs: { n: 3 } }]);
      await swarm.setPriority(b!, 'high');
      await mf.setPriority(c!, 'high');
      await mf.setPriority(c!, 'medium'); // and back
      expect((await mf.load(b!))?.priority).toBe('high');
      await expect(swarm.setPriority(blocker, 'low')).rejects.toMatchObject({ code: 'INVALID_TRANSITION', message: expect.stringContaining(blocker) });
      await expect(mf.setPriority(a, 'urgent' as Priority)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('urgent') });
      const loner = await mf.sign(work);
      await expect(mf.setPriority(loner.key, 'high')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const other = await mf.swarm([work]);
      await expect(swarm.setPriority((await other.counts()) && (await mf.store.swarmMembers(other.key))[0]!, 'high')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(mf.setPriority('task:no-such-member', 'high')).rejects.toMatchObject({ code: 'SIGNATURE_NOT_FOUND' });
      expect((await mf.load(a))?.priority).toBe('low'); // the refusals wrote nothing
      await swarm.close();
      for (let started = 2; started <= 4; started++) {
        gate.releaseAll();
        await until(() => gate.started.length === started, `member ${started} started`);
      }
      gate.releaseAll();
      expect(await swarm.wait({ timeoutMs: wait })).toEqual([0, 1, 2, 3]);
      expect(gate.started).toEqual([0, 2, 3, 1]);
      await expect(swarm.setPriority(b!, 'low')).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
    }, testTimeout);
  });
}
