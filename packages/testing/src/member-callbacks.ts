/**
 * Per-member swarm callbacks: fired once for every member as it ends, with its
 * result or error, key and index, for members added later too; exactly once
 * through a worker crash. Part of the scenario suite.
 */
import { describe, expect, it } from '@jest/globals';
import { Mageflow, memberCallbackKey, withCtx, type MemberErrorMessage, type MemberSuccessMessage, type TaskContext } from '@mageflow/core';
import { faultyStore } from './faulty-store';
import { Recorder, delay, uniqueId, waitUntil } from './helpers';
import type { ScenarioContext } from './hardening';

export function describeMemberCallbacks({ setup, until, env, wait, testTimeout }: ScenarioContext): void {
  describe('per-member swarm callbacks', () => {
    it('fire once per member with its result or error, key and index, also for members added later', async () => {
      const { mf, rec, task } = await setup();
      const work = task('work', (input: { n: number }) => {
        if (input.n === 1) throw new Error('member 1 fails');
        return input.n * 10;
      });
      const onMember = task('on-member');
      const onMemberError = task('on-member-error');
      const own = task('own');
      const onDone = task('on-done');
      await mf.start();
      const swarm = await mf.swarm(
        [{ task: work, kwargs: { n: 0 }, successCallbacks: [own] }, { task: work, kwargs: { n: 1 } }, { task: work, kwargs: { n: 2 } }],
        { config: { maxConcurrency: 2 }, memberSuccess: onMember, memberError: onMemberError, success: onDone },
      );
      const [later] = await swarm.addTasks([{ task: work, kwargs: { n: 3 } }]);
      await swarm.close();
      expect(await swarm.run({}, { timeoutMs: wait })).toEqual([0, 20, 30]);
      await until(() => rec.count('on-done') === 1 && rec.count('on-member') === 3 && rec.count('on-member-error') === 1, 'every callback');
      const members = await env().store.swarmMembers(swarm.key);
      const successes = (rec.values('on-member') as MemberSuccessMessage[]).sort((a, b) => a.index! - b.index!);
      expect(successes).toEqual([
        { result: 0, key: members[0], index: 0 },
        { result: 20, key: members[2], index: 2 },
        { result: 30, key: later, index: 3 },
      ]);
      const [failure] = rec.values('on-member-error') as MemberErrorMessage[];
      expect(failure).toMatchObject({ key: members[1], index: 1, error: { message: 'member 1 fails' } });
      expect(rec.count('own')).toBe(1); // a member's own callbacks fire as well
      await delay(300);
      expect([rec.count('on-member'), rec.count('on-member-error'), rec.count('on-done')]).toEqual([3, 1, 1]);
    }, testTimeout);

    it('take tasks only: a template with callbacks of its own, or a chain, is refused before anything is stored', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const withCallbacks = await mf.sign(work, { successCallbacks: [work] });
      await expect(mf.swarm([work], { memberSuccess: withCallbacks })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const chain = await mf.chain([work, work]);
      await expect(mf.swarm([work], { memberError: chain })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }, testTimeout);

    it('1,000 members: each fires its callback exactly once through a worker crash midway', async () => {
      await setup(); // the env
      const size = 1000;
      const prefix = uniqueId('pm');
      const rec = new Recorder();
      const silent = { debug() {}, info() {}, warn() {}, error() {} };
      // Worker A dies (every store call fails from its next write on) once a third of the callbacks have run.
      const plan = { failAt: Number.MAX_SAFE_INTEGER, crash: true };
      const fault = faultyStore(env().store, plan);
      const define = (mf: Mageflow) => {
        mf.task(`${prefix}-m`, async ({ i }: { i: number }) => i);
        mf.task(
          `${prefix}-each`,
          withCtx(async (m: MemberSuccessMessage, ctx: TaskContext) => {
            rec.record('each', { member: m.key, runId: ctx.runId });
            if (rec.count('each') === Math.floor(size / 3)) plan.failAt = fault.writes() + 1;
          }),
        );
        mf.task(`${prefix}-done`, async (results: number[]) => void rec.record('done', results.length));
      };
      const a = new Mageflow({ store: fault.store, engine: env().engine(), config: { sweepEveryMs: false, recoverOnStart: false, workerTtlMs: 300, heartbeatMs: 100, logger: silent } });
      define(a);
      await a.start();
      const template = await a.sign(`${prefix}-each`);
      const swarm = await a.swarm([], { config: { maxConcurrency: 20 }, memberSuccess: template, success: `${prefix}-done` });
      const members = await swarm.addTasks(Array.from({ length: size }, (_, i) => ({ task: `${prefix}-m`, kwargs: { i } })));
      await swarm.close();
      await swarm.runNoWait({});
      await waitUntil(() => fault.tripped(), 'the crash', wait * 3);
      await a.stop();
      await delay(400); // A's heartbeat runs out

      const b = new Mageflow({ store: env().store, engine: env().engine(), config: { sweepEveryMs: 200, recoverOnStart: true, logger: silent } });
      define(b);
      try {
        await b.start();
        await waitUntil(() => rec.count('done') === 1, 'the swarm callback', wait * 5);
        // each member's callback signature completed once (a body cut short by the crash may have run again)
        for (const member of members) {
          const copy = await waitUntil(async () => {
            const r = await env().store.getRecord(memberCallbackKey(template.key, member));
            return r?.status === 'done' ? r : undefined;
          }, `the callback of ${member}`, wait);
          const runs = (rec.values('each') as { member: string; runId: string }[]).filter((r) => r.member === member);
          expect({ member, completed: runs.filter((r) => r.runId === copy.runId).length }).toEqual({ member, completed: 1 });
        }
        expect(await env().store.swarmCounts(swarm.key)).toMatchObject({ total: size, done: size, failed: 0, running: 0 });
        await delay(300);
        expect(rec.values('done')).toEqual([size]);
      } finally {
        await b.stop();
      }
    }, testTimeout * 5);
  });
}
