/**
 * Scenarios of hostile and careless use: values a store cannot keep, records that
 * cannot be read, cancels and failures racing a swarm's hand-over. Part of the
 * scenario suite, so every Store + Engine pair runs them.
 */
import { describe, expect, it } from '@jest/globals';
import { InvalidTransitionError, TaskFailedError, type ErrorCallbackMessage, type Mageflow, type MageflowConfig, type TaskContext, type TaskHandle } from '@mageflow/core';
import { delay, type Recorder } from './helpers';
import type { ScenarioEnv } from './scenarios';

export interface ScenarioContext {
  setup(config?: MageflowConfig): Promise<{
    mf: Mageflow;
    rec: Recorder;
    t: (label: string) => string;
    task: (label: string, fn?: (input: any, ctx?: TaskContext) => unknown, opts?: Parameters<Mageflow['task']>[2]) => TaskHandle<any, any>;
  }>;
  until<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>>;
  env(): ScenarioEnv;
  wait: number;
  testTimeout: number;
}

/** What the run of a signature failed with, as its error callbacks see it. */
async function failure(run: Promise<unknown>): Promise<ErrorCallbackMessage['error']> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TaskFailedError);
  return (error as TaskFailedError).details.error as ErrorCallbackMessage['error'];
}

export function describeHardening({ setup, until, env, wait, testTimeout }: ScenarioContext): void {
  const storedKeys = async () => (env().keysWithTtl ? [...(await env().keysWithTtl!()).keys()].sort() : undefined);

  describe('hardening', () => {
    it('a result that cannot be stored fails the run once, naming the task and the path; error callbacks fire once', async () => {
      const { mf, rec, t, task } = await setup({ sweepEveryMs: 200 });
      const bad = task('bad', () => ({ ok: 1, f: () => 1 }));
      const cyclic = task('cyclic', () => {
        const value: Record<string, unknown> = {};
        value.self = value;
        return value;
      });
      const onErr = task('on-err');
      const after = task('after');
      const chainErr = task('chain-err');
      await mf.start();
      const sig = await mf.sign(bad, { errorCallbacks: [onErr] });
      const error = await failure(sig.run({}, { timeoutMs: wait }));
      expect(error).toMatchObject({ name: 'InvalidOutputError', code: 'INVALID_OUTPUT' });
      expect(error.message).toContain(t('bad'));
      expect(error.message).toContain('/f');
      await until(() => rec.count('on-err') === 1, 'the error callback');
      expect(((await failure(cyclic.run({}, { timeoutMs: wait }))).message)).toMatch(/cycle.*\/self/);
      // the container moves on: the chain fails, the next member never runs
      const chain = await mf.chain([bad, after], { error: chainErr });
      await failure(chain.run({}, { timeoutMs: wait }));
      await until(() => rec.count('chain-err') === 1, 'the chain error callback');
      await delay(800); // several sweeps: nothing runs the body again
      expect(rec.count('bad')).toBe(2);
      expect(rec.count('on-err')).toBe(1);
      expect(rec.count('after')).toBe(0);
      expect((await mf.load(sig.key))!.status).toBe('failed');
    }, testTimeout);

    it('values come back as they went in: Date, BigInt, Map, Set, NaN, -0, undefined, RegExp, bytes', async () => {
      const { mf, task } = await setup();
      const echo = task('echo', (input) => input);
      await mf.start();
      const value = {
        when: new Date('2024-01-02T03:04:05.678Z'),
        big: 12345678901234567890n,
        map: new Map<unknown, unknown>([['a', 1], [2, { b: [3] }]]),
        set: new Set([1, 'two']),
        nan: Number.NaN,
        inf: -Infinity,
        negZero: -0,
        undef: undefined,
        list: [undefined, 1, null],
        re: /a+b/gi,
        bytes: Buffer.from('hi'),
        tagged: { $mf: 'a user key named like the codec tag', v: 1 },
        precise: 0.1 + 0.2,
        max: Number.MAX_SAFE_INTEGER,
        text: 'quote " backslash \\ newline \n tab \t unicode ✓ 𝄞',
        empty: { a: [], o: {} },
      };
      const sig = await mf.sign(echo, { kwargs: { k: value } });
      expect(sig.kwargs).toStrictEqual({ k: value });
      const out = (await sig.run({ m: value }, { timeoutMs: wait })) as { k: typeof value; m: typeof value };
      expect(out).toStrictEqual({ k: value, m: value });
      expect(Object.is(out.m.negZero, -0)).toBe(true);
      expect('undef' in out.m).toBe(true);
      expect((await mf.load(sig.key))!.result).toStrictEqual({ k: value, m: value });
    }, testTimeout);

    it('values that cannot be stored are refused before anything is written, naming the path', async () => {
      const { mf, task } = await setup();
      const echo = task('echo', (input) => input);
      const typed = task('typed', (i) => i, { input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] } });
      const before = await storedKeys();
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < 300; i++) deep = { d: deep };
      class Money {
        amount = 1;
      }
      const refusals: [unknown, RegExp][] = [
        [{ fn: () => 1 }, /function.*\/fn/],
        [{ self: cyclic }, /cycle.*\/self\/self/],
        [{ s: Symbol('x') }, /symbol.*\/s/],
        [{ deep }, /deeper than/],
        [{ money: new Money() }, /Money.*\/money/],
      ];
      for (const [kwargs, message] of refusals) {
        await expect(mf.sign(echo, { kwargs: kwargs as Record<string, unknown> })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(message) });
      }
      await expect(echo.run(() => 1)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('function') });
      await expect(echo.runNoWait({ at: cyclic })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      // all or none: a chain whose second member cannot be stored, a bulk add whose third cannot
      await expect(mf.chain([echo, { task: echo, kwargs: { fn: () => 1 } }])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(mf.swarm([echo, { task: typed, kwargs: { n: 'x' } }])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(mf.swarm(['no-such-task'])).rejects.toMatchObject({ code: 'UNRECOGNIZED_TASK' });
      expect(await storedKeys()).toEqual(before);
      const swarm = await mf.swarm([]);
      const swarmKeys = await storedKeys();
      await expect(swarm.addTasks([echo, echo, { task: echo, kwargs: { fn: () => 1 } }])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await swarm.counts()).toMatchObject({ total: 0 });
      expect(await storedKeys()).toEqual(swarmKeys);
    }, testTimeout);

    it('arguments that could not be read back are refused with a message naming them', async () => {
      const { mf, task } = await setup();
      const echo = task('echo', (input) => input);
      const before = await storedKeys();
      const refused: [Promise<unknown>, RegExp][] = [
        [mf.sign(echo, { creationTime: 'not a date' as never }), /creationTime.*"not a date"/],
        [mf.sign(echo, { creationTime: new Date('nope') }), /creationTime/],
        [mf.sign(echo, { kwargs: 'str' as never }), /kwargs.*"str"/],
        [mf.sign(echo, { kwargs: [1, 2] as never }), /kwargs.*list/],
        [mf.sign(echo, { status: 'active' }), /pending or suspended.*"active"/],
        [mf.chain([echo, null as never]), /chain member 1.*null/],
        [mf.chain([echo, 42 as never]), /chain member 1.*number 42/],
        [mf.swarm([echo], { config: { maxConcurrency: 0 } }), /maxConcurrency.*0/],
      ];
      for (const [call, message] of refused) await expect(call).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
      expect(await storedKeys()).toEqual(before);
      expect((await mf.sign(echo, { status: 'suspended', creationTime: new Date(1000) })).creationTime.getTime()).toBe(1000);
    }, testTimeout);

    it('a record naming another signature is corrupt: cancel and delete never touch the other; force delete removes it', async () => {
      const { mf, task } = await setup();
      if (!env().corrupt) return;
      const work = task('work');
      const a = await mf.sign(work);
      const b = await mf.sign(work);
      await env().corrupt!(a.key, { ...a.toJSON(), key: b.key });
      await expect(mf.load(a.key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining(a.key) });
      await expect(mf.cancel(a.key, { confirm: true })).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      await expect(mf.delete(a.key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      expect((await mf.load(b.key))?.status).toBe('pending');
      await mf.delete(a.key, { force: true });
      expect(await mf.load(a.key)).toBeNull();
      expect((await mf.load(b.key))?.status).toBe('pending');
    }, testTimeout);

    it('a sweep skips a corrupt record, reports it, and still resumes healthy orphans', async () => {
      const { mf, rec, task } = await setup({ recoverOnStart: false });
      if (!env().corrupt) return;
      const work = task('work', () => 'resumed');
      const bad = await mf.sign(work);
      const orphan = await mf.sign(work);
      // a run left by a worker that died mid-body
      await env().store.updateRecord(orphan.key, {
        set: { status: 'active', lastStatus: 'pending', worker: 'a-dead-worker', runId: 'run-of-the-dead', attempt: 1, message: { value: { from: 'before' } }, dispatchedAt: Date.now() },
        track: true,
      });
      await env().store.updateRecord(bad.key, { set: {}, track: true });
      await env().corrupt!(bad.key);
      await mf.start();
      const report = await mf.recover();
      expect(report.corrupt.map((c) => c.key)).toEqual([bad.key]);
      expect(report.resumed).toContain(orphan.key);
      expect(await orphan.wait({ timeoutMs: wait })).toBe('resumed');
      expect(rec.values('work')).toEqual([{ from: 'before' }]);
      expect((await mf.recover()).corrupt.map((c) => c.key)).toEqual([bad.key]); // still reported, still skipped
    }, testTimeout);

    it('a queued swarm member that is canceled never runs nor takes a slot; the swarm still ends', async () => {
      const { mf, rec, task } = await setup();
      const slow = task('slow', async ({ i }: { i: number }) => (await delay(200), i));
      await mf.start();
      const members = await Promise.all([0, 1, 2, 3].map((i) => mf.sign(slow, { kwargs: { i } })));
      const swarm = await mf.swarm(members, { config: { maxConcurrency: 1 } });
      await swarm.close();
      await swarm.runNoWait({});
      await until(() => rec.count('slow') === 1, 'the first member to start');
      await mf.cancel(members[1]!.key, { confirm: true });
      expect(await swarm.wait({ timeoutMs: wait })).toEqual([0, 2, 3]);
      expect(await swarm.counts()).toEqual({ total: 4, queued: 0, running: 0, done: 3, failed: 1, closed: true });
      expect(rec.values('slow').map((v) => (v as { i: number }).i)).toEqual([0, 2, 3]);
    }, testTimeout);

    it('stopAfterNFailures: nothing starts once the threshold is reached; the failure has a code', async () => {
      const { mf, rec, task } = await setup();
      const fail = task('fail', async () => {
        await delay(50);
        throw new Error('no');
      });
      const onErr = task('on-err');
      await mf.start();
      const swarm = await mf.swarm(Array.from({ length: 10 }, () => fail), { config: { maxConcurrency: 2, stopAfterNFailures: 2 }, error: onErr });
      await swarm.close();
      const error = await failure(swarm.run({}, { timeoutMs: wait }));
      expect(error).toMatchObject({ name: 'SwarmFailedError', code: 'SWARM_FAILED' });
      await until(() => rec.count('on-err') === 1, 'the error callback');
      await delay(400);
      // members 0 and 1 start; 0's failure hands its slot to 2; 1's failure reaches the threshold: no more
      expect(rec.count('fail')).toBe(3);
      expect(rec.count('on-err')).toBe(1);
    }, testTimeout);

    it('what a task throws is kept: an object\'s code and message, a string, undefined; long messages are capped', async () => {
      const { mf, task } = await setup();
      const thrown: unknown[] = [{ code: 'E_CARD', message: 'card declined' }, 'a plain string', undefined, new Error('x'.repeat(20_000))];
      const throwers = thrown.map((value, i) =>
        task(`throws-${i}`, () => {
          throw value;
        }),
      );
      await mf.start();
      const errors = [];
      for (const thrower of throwers) errors.push(await failure(thrower.run({}, { timeoutMs: wait })));
      expect(errors[0]).toMatchObject({ message: 'card declined', code: 'E_CARD', attempts: 1 });
      expect(errors[1]).toMatchObject({ message: 'a plain string' });
      expect(errors[2]).toMatchObject({ message: 'undefined was thrown' });
      expect(errors[3]!.message.length).toBeLessThanOrEqual(4096);
      expect(errors[3]!.stack!.length).toBeLessThanOrEqual(8192);
    }, testTimeout);

    it('repeating an operation is a no-op: resume twice, cancel twice (by handle and by key)', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const sig = await mf.sign(work);
      await sig.suspend();
      await sig.suspend();
      await sig.resume();
      await sig.resume();
      expect((await mf.load(sig.key))!.status).toBe('pending');
      await sig.cancel({ confirm: true });
      await sig.cancel({ confirm: true });
      await mf.cancel(sig.key, { confirm: true });
      expect(sig.status).toBe('canceled');
      await expect(mf.suspend(sig.key)).rejects.toMatchObject({ code: 'SIGNATURE_NOT_FOUND' });
      const done = await mf.sign(work);
      await mf.start();
      await done.run({}, { timeoutMs: wait });
      await expect(done.resume()).rejects.toBeInstanceOf(InvalidTransitionError);
    }, testTimeout);

    it('run() within the deletion window reruns a removed signature of every kind from the start, callbacks and cleanups too', async () => {
      const { mf, rec, task } = await setup();
      const step = task('step', (n) => (typeof n === 'number' ? n + 1 : 1));
      const member = task('member', ({ i }: { i: number }) => i * 10);
      const onOk = task('on-ok');
      const clean = task('clean');
      const memberClean = task('member-clean');
      const slow = task('slow', async () => (await delay(300), 'slow done'));
      await mf.start();
      // each run's callback and cleanup are let end before the removal: one still running when
      // its signature is removed is itself removed while running, and is not run again. Its body
      // having run is not enough: its end is stored after, later still on a loaded machine.
      const ran = (n: number, of: { key: string }) =>
        until(async () => {
          if (rec.count('on-ok') !== n || rec.count('clean') !== n) return false;
          const owner = (await mf.load(of.key))!;
          const ends = await Promise.all([owner.successCallbacks[0]!, owner.cleanupCallbacks[0]!].map((key) => mf.load(key)));
          return ends.every((end) => end?.status === 'done');
        }, `${n} success callbacks and cleanups, the last ones ended`);
      const single = await mf.sign(step, { successCallbacks: [onOk], cleanup: clean });
      expect(await single.run(1, { timeoutMs: wait })).toBe(2);
      await ran(1, single);
      await single.remove();
      expect(await single.run(10, { timeoutMs: wait })).toBe(11);
      await ran(2, single);
      // a member's own cleanup runs again too (before the member counts, so before the chain ends)
      const chain = await mf.chain([await mf.sign(step, { cleanup: memberClean }), step, step], { success: onOk, cleanup: clean });
      expect(await chain.run(0, { timeoutMs: wait })).toBe(3);
      await ran(3, chain);
      await chain.remove();
      expect(await chain.run(100, { timeoutMs: wait })).toBe(103);
      await ran(4, chain);
      const members = await Promise.all([1, 2, 3].map((i) => mf.sign(member, { kwargs: { i } })));
      const swarm = await mf.swarm(members, { config: { maxConcurrency: 2 }, success: onOk, cleanup: clean });
      await swarm.close();
      expect(await swarm.run({}, { timeoutMs: wait })).toEqual([10, 20, 30]);
      await ran(5, swarm);
      await swarm.remove();
      expect(await swarm.run({}, { timeoutMs: wait })).toEqual([10, 20, 30]);
      expect(await swarm.counts()).toMatchObject({ total: 3, done: 3, failed: 0, queued: 0, running: 0 });
      await ran(6, swarm);
      expect(rec.count('step')).toBe(1 + 1 + 3 + 3);
      expect(rec.count('member-clean')).toBe(2);
      expect(rec.count('member')).toBe(6);
      for (const sig of [single, chain, swarm]) expect((await mf.load(sig.key))!.status).toBe('done');
      // removed while running: run() is refused, resume() undoes the removal
      const running = await slow.runNoWait({});
      await until(() => rec.count('slow') === 1, 'the slow task to start');
      await running.remove();
      await expect(running.runNoWait({})).rejects.toBeInstanceOf(InvalidTransitionError);
      await running.resume();
      expect(await running.wait({ timeoutMs: wait })).toBe('slow done');
    }, testTimeout);

    it("a swarm member's error callbacks get the message it was run with, as a lone task's do", async () => {
      const { mf, rec, task } = await setup();
      const boom = task('boom', () => {
        throw new Error('member fails');
      });
      const onError = task('on-error');
      const onMemberError = task('on-member-error');
      await mf.start();
      const member = await mf.sign(boom, { kwargs: { k: 1 }, errorCallbacks: [onError] });
      const swarm = await mf.swarm([member], { memberError: onMemberError });
      await swarm.close();
      await swarm.run({ msg: 'swarm' }, { timeoutMs: wait });
      await until(() => rec.count('on-error') === 1 && rec.count('on-member-error') === 1, 'both error callbacks');
      expect(rec.values('boom')).toEqual([{ msg: 'swarm', k: 1 }]);
      expect(rec.values('on-error')).toEqual([expect.objectContaining({ input: { msg: 'swarm' }, key: member.key })]);
      expect(rec.values('on-member-error')).toEqual([expect.objectContaining({ input: { msg: 'swarm' }, key: member.key, index: 0 })]);
    }, testTimeout);

    it('addTaskAndRun and addTasksAndRun refuse a message that cannot be stored before adding anything', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      await mf.start();
      const swarm = await mf.swarm([]);
      const before = await storedKeys();
      await expect(swarm.addTaskAndRun(work, { fn: () => 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(swarm.addTasksAndRun([work, work], { fns: [Symbol('not storable')] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await swarm.counts()).toMatchObject({ total: 0, queued: 0 });
      expect(await storedKeys()).toEqual(before);
    }, testTimeout);

    it('a container cannot become its own member, or a member of what it contains', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const swarm = await mf.swarm([work]);
      await expect(swarm.addTasks([swarm])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(swarm.key) });
      const inner = await mf.swarm([work]);
      const outer = await mf.chain([work, inner]);
      await expect(inner.addTask(outer)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(outer.key) });
      expect((await mf.load(swarm.key))?.toJSON().parent).toBeUndefined();
      expect((await mf.load(outer.key))?.toJSON().parent).toBeUndefined();
      expect(await inner.counts()).toMatchObject({ total: 1 });
    }, testTimeout);

    it("a signature that is another's callback or cleanup cannot join a container", async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const done = task('done');
      const tidy = task('tidy');
      const swarm = await mf.swarm([work], { success: done, memberSuccess: done });
      const owner = await mf.sign(work, { cleanup: tidy });
      const template = (await mf.load(swarm.key))!.toJSON().memberSuccessCallbacks![0]!;
      for (const held of [swarm.successCallbacks[0]!, owner.cleanupCallbacks[0]!, template]) {
        await expect(swarm.addTask(held)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(held) });
        expect((await mf.load(held))?.toJSON().parent).toBeUndefined();
      }
      expect(await swarm.counts()).toMatchObject({ total: 1 });
    }, testTimeout);

    it('an existing signature listed twice, or given options it cannot take, is refused with nothing changed', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const cb = task('cb');
      const sig = await mf.sign(work, { priority: 'low' });
      const swarm = await mf.swarm([]);
      await expect(swarm.addTasks([{ task: sig, priority: 'high' }, sig])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('twice') });
      await expect(swarm.addTask(sig, { kwargs: { extra: 2 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('kwargs') });
      await expect(swarm.addTasks([{ task: sig, successCallbacks: [cb], priority: 'high' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('successCallbacks') });
      const stored = (await mf.load(sig.key))!;
      expect([stored.priority, stored.toJSON().parent]).toEqual(['low', undefined]);
      expect(await swarm.counts()).toMatchObject({ total: 0 });
      await swarm.addTask(sig, { priority: 'high' }); // a priority it can take
      expect((await mf.load(sig.key))!.priority).toBe('high');
    }, testTimeout);

    it('members added while the swarm is canceled or deleted are never left behind', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      await mf.start();
      const store = env().store;
      const swarmAdd = store.swarmAdd;
      try {
        for (const end of ['cancel', 'delete'] as const) {
          const swarm = await mf.swarm([work], { config: { maxConcurrency: 1 } });
          const before = await storedKeys();
          // the swarm goes after the members are stored and before they are queued: the worst moment
          store.swarmAdd = async (key, ...rest) => {
            if (key === swarm.key) await (end === 'cancel' ? swarm.cancel({ confirm: true }) : mf.delete(swarm.key));
            return swarmAdd.call(store, key, ...rest);
          };
          const added = await swarm.addTasks(Array.from({ length: 20 }, () => work)).then(() => 'added', (e: { code?: string }) => e.code);
          store.swarmAdd = swarmAdd;
          expect(added).toBe(end === 'cancel' ? 'SWARM_IS_CANCELED' : 'SIGNATURE_NOT_FOUND');
          const left = (await storedKeys())?.filter((k) => !before!.includes(k) && !k.includes(':audit:'));
          if (left) expect(left).toEqual([]);
          expect(await store.swarmCounts(swarm.key)).toMatchObject({ total: 0 });
        }
      } finally {
        store.swarmAdd = swarmAdd;
      }
    }, testTimeout);

    it('run and wait options are checked before anything starts', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      await mf.start();
      const sig = await mf.sign(work);
      await expect(sig.run({}, { timeoutMs: 'abc' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('timeoutMs') });
      await expect(sig.run({}, { timeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((await mf.load(sig.key))!.status).toBe('pending');
      await expect(sig.wait(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(mf.waitFor(sig.key, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(work.run({}, { timeoutMs: Infinity })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }, testTimeout);

    it('a swarm keeps its message once: members do not copy it', async () => {
      const { mf, rec, task } = await setup();
      const member = task('member', ({ big, i }: { big: string; i: number }) => `${i}:${big.length}`);
      await mf.start();
      const members = await Promise.all([0, 1, 2].map((i) => mf.sign(member, { kwargs: { i } })));
      const swarm = await mf.swarm(members, { config: { maxConcurrency: 2 } });
      await swarm.close();
      const big = 'x'.repeat(100_000);
      expect(await swarm.run({ big }, { timeoutMs: wait })).toEqual(['0:100000', '1:100000', '2:100000']);
      expect(rec.count('member')).toBe(3);
      for (const m of members) expect((await mf.load(m.key))!.toJSON().message).toBeUndefined();
    }, testTimeout);
  });
}
