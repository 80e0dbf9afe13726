/**
 * Cleanup scenarios (finally semantics): cleanup signatures after each way a
 * signature ends, on each kind; a task's cleanup function after every attempt;
 * cleanup failures that change nothing; nested containers, innermost first. Part
 * of the scenario suite, so every Store + Engine pair runs them.
 */
import { describe, expect, it } from '@jest/globals';
import type { CleanupEnd, CleanupMessage, Signature, TaskContext } from '@mageflow/core';
import { delay } from './helpers';
import type { ScenarioContext } from './hardening';

type End = 'done' | 'failed' | 'timed out' | 'interrupted' | 'canceled';
const ENDS: readonly End[] = ['done', 'failed', 'timed out', 'interrupted', 'canceled'];

/** Holds a body until its run is stopped (interrupt, cancel, timeout), at most `limitMs`. */
async function holdUntilAborted(signal: AbortSignal, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!signal.aborted && Date.now() < deadline) await delay(10);
}

export function describeCleanup({ setup, until, wait, testTimeout }: ScenarioContext): void {
  describe('cleanup', () => {
    for (const kind of ['task', 'chain', 'swarm'] as const) {
      for (const end of ENDS) {
        it(`starts a ${kind}'s cleanup signature once when it ends: ${end}`, async () => {
          const { mf, rec, task } = await setup();
          const work = task(
            'work',
            async (input: { mode: string }, ctx?: TaskContext) => {
              if (input.mode === 'fail') throw new Error('boom');
              if (input.mode === 'hold') await holdUntilAborted(ctx!.signal, wait);
              return 'result';
            },
            { messageField: 'previous', ...(end === 'timed out' ? { timeoutMs: 300 } : {}) },
          );
          const cleanup = task('cleanup');
          await mf.start();
          const mode = end === 'done' ? 'ok' : end === 'failed' ? 'fail' : 'hold';
          const member = (m: string) => ({ task: work, kwargs: { mode: m } });
          let sig: Signature;
          if (kind === 'task') {
            sig = await mf.sign(work, { kwargs: { mode }, cleanup });
          } else if (kind === 'chain') {
            sig = await mf.chain([member('ok'), member(mode)], { cleanup });
          } else {
            const swarm = await mf.swarm([member(mode)], { config: { maxConcurrency: 1, stopAfterNFailures: 1 }, cleanup });
            await swarm.close();
            sig = swarm;
          }
          await sig.runNoWait({});
          const started = kind === 'chain' ? 2 : 1;
          await until(() => rec.count('work') >= started, 'the body to start');
          if (end === 'interrupted') await sig.interrupt();
          if (end === 'canceled') await sig.cancel({ confirm: true });

          await until(() => rec.count('cleanup') === 1, 'the cleanup signature');
          const message = rec.values('cleanup')[0] as CleanupMessage;
          const outcome = end === 'timed out' ? 'failed' : end;
          expect(message).toMatchObject({ key: sig.key, outcome });
          if (end === 'done') expect(message.result).toEqual(kind === 'swarm' ? ['result'] : 'result');
          if (end === 'failed' || end === 'timed out') {
            const code = kind === 'swarm' ? 'SWARM_FAILED' : end === 'timed out' ? 'TASK_TIMEOUT' : undefined;
            expect(message.error).toMatchObject(code ? { code } : { message: expect.stringContaining('boom') });
          }
          if (end === 'canceled') expect(await mf.load(sig.key)).toBeNull();
          else expect((await mf.load(sig.key))!.status).toBe(end === 'timed out' ? 'failed' : end);
          await delay(300);
          expect(rec.count('cleanup')).toBe(1);
        }, testTimeout);
      }
    }

    it("runs a task's cleanup function after every attempt, in the worker that ran it; its failure changes nothing", async () => {
      const { mf, rec, task } = await setup();
      const ends: (CleanupEnd & { attempt: number })[] = [];
      const flaky = task(
        'flaky',
        async (_input: unknown, ctx?: TaskContext) => {
          if (ctx!.attempt === 1) throw new Error('first attempt fails');
          return 'ok';
        },
        {
          retries: 1,
          cleanup: async (ctx, end) => {
            ends.push({ ...end, attempt: ctx.attempt });
            if (ctx.attempt === 2) throw new Error('cleanup broke');
          },
        },
      );
      const onOk = task('on-ok');
      const onErr = task('on-err');
      await mf.start();
      const sig = await mf.sign(flaky, { successCallbacks: [onOk], errorCallbacks: [onErr] });
      expect(await sig.run({}, { timeoutMs: wait })).toBe('ok');
      await until(() => rec.count('on-ok') === 1, 'the success callback');
      expect(ends).toEqual([
        { outcome: 'failed', error: expect.objectContaining({ message: 'first attempt fails' }), willRetry: true, attempt: 1 },
        { outcome: 'done', result: 'ok', willRetry: false, attempt: 2 },
      ]);
      await sig.refresh();
      expect(sig.status).toBe('done');
      expect(sig.result).toBe('ok');
      expect(sig.cleanupError).toMatchObject({ message: 'cleanup broke' });
      await delay(200);
      expect(rec.count('on-ok')).toBe(1);
      expect(rec.count('on-err')).toBe(0);
    }, testTimeout);

    it('runs the cleanup function when the body times out, is interrupted or is cancelled', async () => {
      const { mf, rec, task } = await setup();
      const ends: { slow: CleanupEnd[]; held: CleanupEnd[] } = { slow: [], held: [] };
      const hold = (label: 'slow' | 'held', timeoutMs?: number) =>
        task(label, async (_input: unknown, ctx?: TaskContext) => holdUntilAborted(ctx!.signal, wait), {
          ...(timeoutMs ? { timeoutMs } : {}),
          cleanup: (_ctx, end) => void ends[label].push(end),
        });
      const slow = hold('slow', 300);
      const held = hold('held');
      await mf.start();
      const timedOut = await mf.sign(slow);
      await expect(timedOut.run({}, { timeoutMs: wait })).rejects.toMatchObject({ code: 'TASK_FAILED' });
      expect(ends.slow).toEqual([{ outcome: 'failed', error: expect.objectContaining({ code: 'TASK_TIMEOUT' }), willRetry: false }]);

      const interrupted = await mf.sign(held);
      await interrupted.runNoWait({});
      await until(() => rec.count('held') === 1, 'the body to start');
      await interrupted.interrupt();
      await until(() => ends.held.length === 1, 'the cleanup after the interrupt');
      expect(ends.held[0]).toEqual({ outcome: 'interrupted', willRetry: false });

      const canceled = await mf.sign(held);
      await canceled.runNoWait({});
      await until(() => rec.count('held') === 2, 'the body to start');
      await canceled.cancel({ confirm: true });
      await until(() => ends.held.length === 2, 'the cleanup after the cancel');
      expect(ends.held[1]).toEqual({ outcome: 'canceled', willRetry: false });
    }, testTimeout);

    it('a failing cleanup signature is kept on its owner and masks nothing', async () => {
      const { mf, rec, task } = await setup();
      const work = task('work', () => 'fine');
      const broken = task('broken', () => {
        throw new Error('cleanup signature broke');
      });
      const onOk = task('on-ok');
      const onErr = task('on-err');
      await mf.start();
      const sig = await mf.sign(work, { successCallbacks: [onOk], errorCallbacks: [onErr], cleanup: broken });
      expect(await sig.run({}, { timeoutMs: wait })).toBe('fine');
      const owner = await until(async () => ((await mf.load(sig.key))?.cleanupError ? mf.load(sig.key) : undefined), 'the cleanup failure on its owner');
      expect(owner.cleanupError).toMatchObject({ message: 'cleanup signature broke' });
      expect(owner.status).toBe('done');
      expect(owner.result).toBe('fine');
      expect((await mf.load(sig.cleanupCallbacks[0]!))!.status).toBe('failed');
      await delay(200);
      expect(rec.count('on-ok')).toBe(1);
      expect(rec.count('on-err')).toBe(0);
      expect(rec.count('broken')).toBe(1);
    }, testTimeout);

    it('nested cleanups run innermost first, and a member counts once its cleanups have run', async () => {
      const { mf, rec, task } = await setup();
      const step = task('step', () => 'x', { messageField: 'previous', cleanup: () => void rec.record('step-cleanup') });
      const last = task('last', () => 'y', { messageField: 'previous' });
      // the innermost cleanup takes a while: everything after it must wait for it
      const slowCleanup = task('inner-cleanup', async () => (await delay(300), rec.record('inner-cleanup-ended')));
      const swarmCleanup = task('swarm-cleanup');
      const outerCleanup = task('outer-cleanup');
      const reused = await mf.sign(outerCleanup, { kwargs: { reused: true } });
      await mf.start();
      const inner = await mf.chain([step, step], { cleanup: slowCleanup });
      const swarm = await mf.swarm([inner], { cleanup: swarmCleanup });
      await swarm.close();
      const outer = await mf.chain([swarm, last], { cleanup: reused });
      expect(await outer.run({}, { timeoutMs: wait })).toBe('y');
      await until(() => rec.count('outer-cleanup') === 1, 'the outer cleanup');
      expect(rec.names()).toEqual(['step', 'step-cleanup', 'step', 'step-cleanup', 'inner-cleanup', 'inner-cleanup-ended', 'swarm-cleanup', 'last', 'outer-cleanup']);
      expect(rec.values('outer-cleanup')[0]).toMatchObject({ key: outer.key, outcome: 'done', result: 'y', reused: true });
      // an existing signature serves one owner only
      await expect(mf.chain([step, step], { cleanup: reused })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }, testTimeout);
  });
}
