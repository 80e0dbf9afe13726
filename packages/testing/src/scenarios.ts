/**
 * The scenario suite: the whole product, end to end, on one Store + Engine pair.
 * The memory, Redis and Hatchet packages all run it.
 *
 *   describeScenarios('redis + in-process', async () => ({ store, engine: () => new InProcessEngine(), cleanup }));
 */
import { afterEach, describe, expect, it } from '@jest/globals';
// Input schemas below are written as plain JSON Schema, which is what typebox
// builds: importing typebox (ESM-only) would break this package under jest's
// CommonJS runtime, where users load it.
import {
  InvalidTransitionError,
  Mageflow,
  SignatureLockedError,
  SignatureNotFoundError,
  TooManyResultsError,
  type SwarmResultsHandle,
  TaskAlreadyRunningError,
  TaskCanceledError,
  TaskFailedError,
  TooManyTasksError,
  SwarmIsCanceledError,
  ConfirmationRequiredError,
  withCtx,
  withSignature,
  type Engine,
  type MageflowConfig,
  type Signature,
  type Store,
  type TaskContext,
  type ErrorCallbackMessage,
} from '@mageflow/core';
import { Recorder, delay, uniqueId, waitUntil } from './helpers';
import { describeCleanup } from './cleanup';
import { describeHardening } from './hardening';
import { describeMemberCallbacks } from './member-callbacks';
import { describeGraphs } from './graphs';
import { describePriority } from './priority';

export interface ScenarioEnv {
  store: Store;
  /** a fresh engine for each Mageflow client a test makes. */
  engine(): Engine;
  /** seconds to live of every key the store holds for this env (for the TTL checks). */
  keysWithTtl?(): Promise<Map<string, number>>;
  /** seconds to live of one record (the longest of the keys the store keeps for it). */
  recordTtl?(key: string): Promise<number | undefined>;
  /** the stored name of a signature's audit log, which outlives the signature on purpose. */
  auditKey?(key: string): string;
  /**
   * Writes a raw value under a record key, bypassing every check: the fields given
   * (each stored as the store stores a field), or, without fields, garbage.
   */
  corrupt?(key: string, fields?: Record<string, unknown>): Promise<void>;
  cleanup?(): Promise<void>;
}
export type ScenarioFactory = () => Promise<ScenarioEnv>;

export interface ScenarioOptions {
  /** upper bound for any single wait. Default 20 s. */
  timeoutMs?: number;
}

/** A promise the test opens when it wants a held task body to go on. */
class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((r) => (this.open = r));
  release() {
    this.open();
  }
}

export function describeScenarios(name: string, factory: ScenarioFactory, options: ScenarioOptions = {}): void {
  const wait = options.timeoutMs ?? 20_000;
  const testTimeout = wait * 3;

  describe(`Scenarios: ${name}`, () => {
    let env: ScenarioEnv | undefined;
    const clients: Mageflow[] = [];

    afterEach(async () => {
      for (const mf of clients.splice(0)) await mf.stop();
      await env?.cleanup?.();
      env = undefined;
    }, 30_000);

    /** A client on the env's store with a fresh engine; `t(label)` gives a task name unique to this test. */
    async function setup(config: MageflowConfig = {}) {
      env ??= await factory();
      const mf = new Mageflow({ store: env.store, engine: env.engine(), config: { sweepEveryMs: false, ...config } });
      clients.push(mf);
      const prefix = uniqueId('sc');
      const rec = new Recorder();
      const t = (label: string) => `${prefix}-${label}`;
      /** a task that records its input under `label` and returns `fn(input)`. */
      const task = (label: string, fn: (input: any, ctx?: TaskContext) => unknown = (i) => i, opts: Parameters<Mageflow['task']>[2] = {}) =>
        mf.task(t(label), withCtx(async (input: any, ctx: TaskContext) => (rec.record(label, input), fn(input, ctx))), opts);
      return { mf, rec, t, task };
    }

    const until = <T>(check: () => T | Promise<T>, what: string) => waitUntil(check, what, wait);
    /** No key the store holds mentions any of these signature keys (a scan of the store where it can list keys). */
    async function expectNoKeysOf(keys: string[]) {
      if (!env?.keysWithTtl) return;
      const audits = new Set(keys.map((k) => env!.auditKey?.(k)));
      const left = [...(await env.keysWithTtl()).keys()].filter((stored) => !audits.has(stored) && keys.some((k) => stored.includes(k)));
      expect(left).toEqual([]);
    }
    const statusOf = async (mf: Mageflow, key: string) => (await mf.load(key))?.status;

    describe('tasks and callbacks', () => {
      it('runs a task and fires its success callbacks with the result', async () => {
        const { mf, rec, task } = await setup();
        const add = task('add', ({ a, b }) => a + b, { input: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } });
        const onOk = task('on-ok');
        await mf.start();
        const sig = await mf.sign(add, { kwargs: { b: 2 }, successCallbacks: [onOk] });
        expect(await sig.run({ a: 1, b: 100 }, { timeoutMs: wait })).toBe(3);
        await until(() => rec.count('on-ok') === 1, 'the success callback');
        expect(rec.values('on-ok')).toEqual([3]);
        expect(rec.values('add')).toEqual([{ a: 1, b: 2 }]);
        expect(await statusOf(mf, sig.key)).toBe('done');
      }, testTimeout);

      it('fires error callbacks once, after the last attempt, with the error and the input', async () => {
        const { mf, rec, task } = await setup();
        const boom = task('boom', () => {
          throw new Error('card declined');
        }, { retries: 2 });
        const onErr = task('on-err');
        const onOk = task('on-ok');
        await mf.start();
        const sig = await mf.sign(boom, { kwargs: { order: 7 }, successCallbacks: [onOk], errorCallbacks: [onErr] });
        await expect(sig.run({ amount: 5 }, { timeoutMs: wait })).rejects.toBeInstanceOf(TaskFailedError);
        await until(() => rec.count('on-err') === 1, 'the error callback');
        await delay(200);
        expect(rec.count('boom')).toBe(3);
        expect(rec.count('on-err')).toBe(1);
        expect(rec.count('on-ok')).toBe(0);
        const message = rec.values('on-err')[0] as ErrorCallbackMessage;
        expect(message.error).toMatchObject({ name: 'Error', message: 'card declined', attempts: 3 });
        expect(message.input).toEqual({ amount: 5 });
        expect(message.key).toBe(sig.key);
      }, testTimeout);

      it('a task that fails and then succeeds fires only its success callbacks', async () => {
        const { mf, rec, task } = await setup();
        let calls = 0;
        const flaky = task('flaky', () => {
          calls += 1;
          if (calls < 3) throw new Error(`fail ${calls}`);
          return 'ok';
        }, { retries: 3 });
        const onOk = task('on-ok');
        const onErr = task('on-err');
        await mf.start();
        const sig = await mf.sign(flaky, { successCallbacks: [onOk], errorCallbacks: [onErr] });
        expect(await sig.run({}, { timeoutMs: wait })).toBe('ok');
        await until(() => rec.count('on-ok') === 1, 'the success callback');
        await delay(200);
        expect(rec.count('on-err')).toBe(0);
        expect(calls).toBe(3);
      }, testTimeout);

      it('invalid input fails before the body runs, with INVALID_INPUT for the error callbacks', async () => {
        const { mf, rec, task } = await setup();
        const typed = task('typed', (i) => i, { input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, retries: 2 });
        const onErr = task('on-err');
        await mf.start();
        const sig = await mf.sign(typed, { errorCallbacks: [onErr] });
        await expect(sig.run({ n: 'not a number' }, { timeoutMs: wait })).rejects.toBeInstanceOf(TaskFailedError);
        await until(() => rec.count('on-err') === 1, 'the error callback');
        expect(rec.count('typed')).toBe(0);
        expect((rec.values('on-err')[0] as ErrorCallbackMessage).error).toMatchObject({ code: 'INVALID_INPUT', attempts: 1 });
      }, testTimeout);

      it('hands the context and the signature to tasks that ask for them', async () => {
        const { mf, t } = await setup();
        const seen: unknown[] = [];
        mf.task(t('ctx'), withCtx(async (input: unknown, ctx: TaskContext) => (seen.push([input, ctx.attempt, ctx.key, ctx.signal.aborted]), 1)));
        mf.task(t('self'), withSignature(async (_input: unknown, self: Signature) => (seen.push(self.key), 2)));
        await mf.start();
        const a = await mf.sign(t('ctx'));
        const b = await mf.sign(t('self'));
        await a.run({ x: 1 }, { timeoutMs: wait });
        await b.run({}, { timeoutMs: wait });
        expect(seen).toEqual([[{ x: 1 }, 1, a.key, false], b.key]);
      }, testTimeout);
    });

    describe('chains', () => {
      it('hands each result to the next member and fires the chain callbacks once', async () => {
        const { mf, rec, task } = await setup();
        const validate = task('validate', (o) => ({ ...o, valid: true }));
        const charge = task('charge', (o) => ({ ...o, charged: o.total }));
        const ship = task('ship', (o) => `shipped ${o.id} for ${o.charged}`);
        const done = task('done');
        const failed = task('failed');
        await mf.start();
        const chain = await mf.chain([validate, charge, ship], { success: done, error: failed, kwargs: { channel: 'web' } });
        expect(await chain.run({ id: 'o1', total: 30 }, { timeoutMs: wait })).toBe('shipped o1 for 30');
        await until(() => rec.count('done') === 1, 'the chain callback');
        expect(rec.values('validate')).toEqual([{ id: 'o1', total: 30, channel: 'web' }]);
        expect(rec.values('charge')).toEqual([{ id: 'o1', total: 30, channel: 'web', valid: true }]);
        expect(rec.values('done')).toEqual(['shipped o1 for 30']);
        expect(rec.count('failed')).toBe(0);
      }, testTimeout);

      it('stops at a failing member: later members never run, the error callbacks fire once', async () => {
        const { mf, rec, task } = await setup();
        const a = task('a');
        const b = task('b', () => {
          throw new Error('b broke');
        }, { retries: 1 });
        const c = task('c');
        const failed = task('failed');
        await mf.start();
        const chain = await mf.chain([a, b, c], { error: failed });
        await expect(chain.run({ v: 1 }, { timeoutMs: wait })).rejects.toThrow('b broke');
        await until(() => rec.count('failed') === 1, 'the chain error callback');
        await delay(300);
        expect(rec.count('b')).toBe(2);
        expect(rec.count('c')).toBe(0);
        expect(rec.count('failed')).toBe(1);
        expect((rec.values('failed')[0] as ErrorCallbackMessage).error.message).toBe('b broke');
      }, testTimeout);
    });

    describe('swarms', () => {
      it('runs under its cap, takes members while running, and fires once with results in the order added', async () => {
        const { mf, rec, task } = await setup();
        let running = 0;
        let maxRunning = 0;
        const work = task('work', async ({ n, base }) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await delay(20);
          running -= 1;
          return n + base;
        });
        const done = task('done');
        await mf.start();
        const swarm = await mf.swarm([], { config: { maxConcurrency: 3 }, success: done });
        await swarm.addTasks(await Promise.all([1, 2, 3, 4, 5].map((n) => mf.sign(work, { kwargs: { n } }))));
        await swarm.runNoWait({ base: 100 });
        await swarm.addTask(await mf.sign(work, { kwargs: { n: 6 } }));
        await swarm.close();
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([101, 102, 103, 104, 105, 106]);
        await until(() => rec.count('done') === 1, 'the swarm callback');
        await delay(200);
        expect(rec.count('done')).toBe(1);
        expect(rec.values('done')).toEqual([[101, 102, 103, 104, 105, 106]]);
        expect(maxRunning).toBeLessThanOrEqual(3);
      }, testTimeout);

      it('fails once at stopAfterNFailures and starts no more members', async () => {
        const { mf, rec, task } = await setup();
        const work = task('work', async ({ fail }) => {
          await delay(10);
          if (fail) throw new Error('member failed');
          return 'ok';
        });
        const failed = task('failed');
        const done = task('done');
        await mf.start();
        const members = await Promise.all(Array.from({ length: 12 }, (_, i) => mf.sign(work, { kwargs: { fail: i < 3 } })));
        const swarm = await mf.swarm(members, { config: { maxConcurrency: 2, stopAfterNFailures: 2 }, error: failed, success: done });
        await swarm.close();
        await swarm.runNoWait({});
        await expect(swarm.wait({ timeoutMs: wait })).rejects.toBeInstanceOf(TaskFailedError);
        await until(() => rec.count('failed') === 1, 'the swarm error callback');
        await delay(300);
        expect(rec.count('failed')).toBe(1);
        expect(rec.count('done')).toBe(0);
        expect(rec.count('work')).toBeLessThanOrEqual(4);
      }, testTimeout);

      it('refuses members past maxTaskAllowed and closes when it is reached', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        await mf.start();
        const swarm = await mf.swarm([], { config: { maxTaskAllowed: 2 } });
        await swarm.addTask(work);
        await expect(swarm.addTasks([work, work])).rejects.toBeInstanceOf(TooManyTasksError);
        expect((await swarm.counts()).total).toBe(1);
        await swarm.addTask(work);
        expect((await swarm.counts()).closed).toBe(true);
        await swarm.runNoWait({});
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([{}, {}]);
      }, testTimeout);

      it('a swarm inside a chain hands its result list to the next step', async () => {
        const { mf, rec, task } = await setup();
        const prepare = task('prepare', (o) => ({ items: o.items }));
        const item = task('item', ({ items, i }) => items[i] * 10);
        const total = task('total', ({ results }) => results.reduce((a: number, b: number) => a + b, 0), { messageField: 'results' });
        await mf.start();
        const fanout = await mf.swarm(await Promise.all([0, 1, 2].map((i) => mf.sign(item, { kwargs: { i } }))), { config: { maxConcurrency: 2 } });
        await fanout.close();
        const chain = await mf.chain([prepare, fanout, total]);
        expect(await chain.run({ items: [1, 2, 3] }, { timeoutMs: wait })).toBe(60);
        expect(rec.values('total')).toEqual([{ results: [10, 20, 30] }]);
      }, testTimeout);

      it('a chain inside a swarm counts as one member, with the chain result', async () => {
        const { mf, task } = await setup();
        const inc = task('inc', (n) => (typeof n === 'number' ? n + 1 : n.start + 1));
        await mf.start();
        const inner = await mf.chain([inc, inc, inc]);
        const swarm = await mf.swarm([inner, await mf.sign(inc)], { config: { maxConcurrency: 2 } });
        await swarm.close();
        await swarm.runNoWait({ start: 0 });
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([3, 1]);
      }, testTimeout);

      it("results: 'handle' hands the callback a small handle it reads in pages, in the order added, failures left out", async () => {
        const { mf, rec, task } = await setup();
        const work = task('work', ({ n }) => {
          if (n % 4 === 3) throw new Error(`member ${n} fails`);
          return n * 10;
        });
        let read: unknown[][] = [];
        let finished = false;
        const collect = task('collect', async (handle) => {
          read = [];
          for await (const page of mf.swarmResults(handle, { pageSize: 3 })) read.push(page);
          finished = true;
          return read.flat().length;
        });
        await mf.start();
        const swarm = await mf.swarm([], { config: { maxConcurrency: 4, results: 'handle' }, success: collect });
        // added in batches, as a large swarm is
        for (let batch = 0; batch < 3; batch++) await swarm.addTasks(await Promise.all([0, 1, 2, 3].map((i) => mf.sign(work, { kwargs: { n: batch * 4 + i } }))));
        await swarm.close();
        await swarm.runNoWait({});
        const handle = await swarm.wait({ timeoutMs: wait });
        expect(handle).toEqual({ type: 'swarm-results', swarm: swarm.key, members: 12, results: 9 });
        await until(() => finished, 'the swarm callback reading every page');
        expect(rec.values('collect')).toEqual([handle]);
        expect(read.flat()).toEqual([0, 10, 20, 40, 50, 60, 80, 90, 100]);
        expect(read.every((page) => page.length > 0 && page.length <= 3)).toBe(true);
        // a handle that is not one, and a swarm that is gone, are typed errors, never a short list
        await expect(mf.swarmResults({ swarm: swarm.key } as never)[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        const gone = mf.swarmResults({ ...(handle as SwarmResultsHandle), swarm: 'swarm:no-such-swarm' });
        await expect(gone[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(SignatureNotFoundError);
      }, testTimeout);

      it("a 'list' swarm past maxListResults is refused with TooManyResultsError before anything is written", async () => {
        const { mf, task } = await setup({ maxListResults: 3 });
        const work = task('work');
        await mf.start();
        await expect(mf.swarm([work, work, work, work])).rejects.toBeInstanceOf(TooManyResultsError);
        const swarm = await mf.swarm([work, work]);
        await expect(swarm.addTasks([work, work])).rejects.toBeInstanceOf(TooManyResultsError);
        expect((await swarm.counts()).total).toBe(2);
        await swarm.addTask(work);
        await swarm.close();
        await swarm.runNoWait({});
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([{}, {}, {}]);
        // a handle swarm has no such limit
        const large = await mf.swarm([work, work, work, work], { config: { results: 'handle' } });
        await large.close();
        await large.runNoWait({});
        expect(await large.wait({ timeoutMs: wait })).toMatchObject({ members: 4, results: 4 });
      }, testTimeout);

      it("a 'list' swarm that still grows past maxListResults (another worker's limit) fails with TOO_MANY_RESULTS, never loading them", async () => {
        const { mf: adder, task } = await setup({ maxListResults: 10 });
        const work = task('work');
        const swarm = await adder.swarm([work, work, work, work]);
        await swarm.close();
        await adder.stop();
        const { mf: runner } = await setup({ maxListResults: 3 });
        runner.task(work.name, async (input: unknown) => input);
        await runner.start();
        await runner.runNoWait(swarm.key, {});
        const error = await runner.waitFor(swarm.key, { timeoutMs: wait }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TaskFailedError);
        expect((error as TaskFailedError).details.error).toMatchObject({ code: 'TOO_MANY_RESULTS' });
      }, testTimeout);
    });

    describe('lifecycle', () => {
      it('suspend holds a pending task; resume sends it again (pending -> suspended -> pending)', async () => {
        const { mf, rec, task } = await setup();
        const work = task('work');
        await mf.start();
        const sig = await mf.sign(work);
        await sig.suspend();
        expect(sig.status).toBe('suspended');
        await sig.runNoWait({ v: 1 }); // held, not run
        await delay(300);
        expect(rec.count('work')).toBe(0);
        expect(await statusOf(mf, sig.key)).toBe('suspended');
        await sig.resume();
        expect(await sig.wait({ timeoutMs: wait })).toEqual({ v: 1 });
        expect(rec.count('work')).toBe(1);
        const never = await mf.sign(work);
        await never.suspend();
        await never.resume(); // never run: resume leaves it pending, nothing is sent
        expect(never.status).toBe('pending');
        await delay(200);
        expect(rec.count('work')).toBe(1);
      }, testTimeout);

      it('a run delivered while suspended keeps its message and runs on resume', async () => {
        const { mf, rec, task } = await setup();
        const gate = new Gate();
        const hold = task('hold', async (i) => (await gate.opened, i));
        const work = task('work');
        await mf.start();
        // the chain's second member is dispatched while suspended: its run is turned away and held
        const first = await mf.sign(hold);
        const second = await mf.sign(work);
        const chain = await mf.chain([first, second]);
        await chain.runNoWait({ v: 1 });
        await until(() => rec.count('hold') === 1, 'the first member');
        await second.suspend();
        gate.release();
        await until(async () => (await mf.load(second.key))?.toJSON().message !== undefined, 'the run to be turned away and held');
        await delay(300);
        expect(rec.count('work')).toBe(0);
        await second.resume();
        expect(await chain.wait({ timeoutMs: wait })).toEqual({ v: 1 });
        expect(rec.count('work')).toBe(1);
      }, testTimeout);

      it('suspend on a running task raises TaskAlreadyRunningError; the documented fallback interrupts it', async () => {
        const { mf, rec, task } = await setup();
        let abortedSeen = false;
        const long = task('long', (_i, ctx) =>
          new Promise((resolve) => ctx!.signal.addEventListener('abort', () => ((abortedSeen = true), setTimeout(() => resolve('late'), 50)))),
          { messageField: 'm' },
        );
        const onOk = task('on-ok');
        await mf.start();
        const sig = await mf.sign(long, { successCallbacks: [onOk] });
        await sig.runNoWait({});
        await until(async () => (await statusOf(mf, sig.key)) === 'active', 'the task to run');
        await expect(sig.suspend()).rejects.toBeInstanceOf(TaskAlreadyRunningError);
        expect(await statusOf(mf, sig.key)).toBe('active');
        try {
          await sig.suspend();
        } catch (e) {
          if (e instanceof TaskAlreadyRunningError) await sig.interrupt();
        }
        expect(await statusOf(mf, sig.key)).toBe('interrupted');
        await until(() => abortedSeen, 'the body to see the abort');
        await delay(300);
        expect(await statusOf(mf, sig.key)).toBe('interrupted'); // the late return did not overwrite it
        expect(rec.count('on-ok')).toBe(0);
        expect(rec.count('long')).toBe(1);
      }, testTimeout);

      it('resume of a task interrupted mid-run runs it again from its saved input (active -> interrupted -> active)', async () => {
        const { mf, rec, task } = await setup();
        let calls = 0;
        const long = task('long', (input, ctx) => {
          calls += 1;
          if (calls > 1) return { again: input };
          return new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => reject(ctx!.signal.reason)));
        });
        await mf.start();
        const sig = await mf.sign(long, { kwargs: { k: 1 } });
        await sig.runNoWait({ m: 2 });
        await until(async () => (await statusOf(mf, sig.key)) === 'active', 'the task to run');
        await sig.interrupt();
        await sig.resume();
        expect(await sig.wait({ timeoutMs: wait })).toEqual({ again: { m: 2, k: 1 } });
        expect(rec.count('long')).toBe(2);
      }, testTimeout);

      it('pending -> interrupted -> pending', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        await mf.start();
        const sig = await mf.sign(work);
        await sig.interrupt();
        expect(sig.status).toBe('interrupted');
        await sig.resume();
        expect(sig.status).toBe('pending');
        expect(await sig.run({ ok: 1 }, { timeoutMs: wait })).toEqual({ ok: 1 });
      }, testTimeout);

      it('suspending a chain between steps holds it; resume runs the rest once with the held result', async () => {
        const { mf, rec, task } = await setup();
        const gate = new Gate();
        const step = (label: string) => task(label, (n) => n + 1, { messageField: undefined });
        const s1 = step('s1');
        const s2 = task('s2', async (n) => (await gate.opened, n + 1));
        const [s3, s4, s5] = [step('s3'), step('s4'), step('s5')];
        const done = task('done');
        await mf.start();
        const chain = await mf.chain([s1, s2, s3, s4, s5], { success: done });
        await chain.runNoWait(0);
        await until(() => rec.count('s2') === 1, 'step 2 to run');
        await chain.suspend();
        expect(await statusOf(mf, chain.key)).toBe('suspended');
        gate.release();
        const s2Key = (await mf.load(chain.key))!.toJSON().members![1]!;
        await until(async () => (await statusOf(mf, s2Key)) === 'done', 'step 2 to finish and be held');
        await delay(300);
        expect(rec.count('s3')).toBe(0);
        await chain.resume();
        expect(await chain.wait({ timeoutMs: wait })).toBe(5);
        expect(rec.values('s3')).toEqual([2]);
        for (const s of ['s1', 's2', 's3', 's4', 's5']) expect(rec.count(s)).toBe(1);
        await until(() => rec.count('done') === 1, 'the chain callback');
      }, testTimeout);

      it('suspending a swarm mid-way holds it; resume runs every member exactly once and fires once', async () => {
        const { mf, rec, task } = await setup();
        const work = task('work', async ({ i }) => (await delay(5), i));
        const done = task('done');
        await mf.start();
        const swarm = await mf.swarm(await Promise.all(Array.from({ length: 100 }, (_, i) => mf.sign(work, { kwargs: { i } }))), {
          config: { maxConcurrency: 5 },
          success: done,
        });
        await swarm.close();
        await swarm.runNoWait({});
        await until(() => rec.count('work') >= 20, '20 members to run');
        await swarm.suspend();
        expect(await statusOf(mf, swarm.key)).toBe('suspended');
        await delay(300);
        const heldAt = rec.count('work');
        await delay(300);
        expect(rec.count('work')).toBe(heldAt);
        expect(heldAt).toBeLessThan(100);
        await swarm.resume();
        const results = (await swarm.wait({ timeoutMs: wait })) as number[];
        expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i));
        await until(() => rec.count('done') === 1, 'the swarm callback');
        await delay(200);
        expect(rec.count('work')).toBe(100);
        expect(new Set(rec.values('work').map((v: any) => v.i)).size).toBe(100);
        expect(rec.count('done')).toBe(1);
      }, testTimeout);

      it('interrupting a swarm interrupts its running members and stops dispatch', async () => {
        const { mf, rec, task } = await setup();
        const aborted: number[] = [];
        const work = task('work', ({ i }, ctx) => new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => (aborted.push(i), reject(ctx!.signal.reason)))));
        await mf.start();
        const swarm = await mf.swarm(await Promise.all(Array.from({ length: 6 }, (_, i) => mf.sign(work, { kwargs: { i } }))), { config: { maxConcurrency: 2 } });
        await swarm.runNoWait({});
        await until(() => rec.count('work') === 2, 'two members to run');
        await swarm.interrupt();
        expect(await statusOf(mf, swarm.key)).toBe('interrupted');
        await until(() => aborted.length === 2, 'both running members to see the abort');
        await delay(300);
        expect(rec.count('work')).toBe(2);
      }, testTimeout);

      it('a swarm interrupted and resumed runs its interrupted members again and finishes once', async () => {
        const { mf, rec, task } = await setup();
        const gate = new Gate();
        const work = task('work', async ({ i }, ctx) => {
          if (rec.count('work') <= 2) return new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => reject(ctx!.signal.reason)));
          await gate.opened;
          return i;
        });
        const done = task('done');
        await mf.start();
        const swarm = await mf.swarm(Array.from({ length: 6 }, (_, i) => ({ task: work, kwargs: { i } })), { config: { maxConcurrency: 2 }, success: done });
        await swarm.close();
        await swarm.runNoWait({});
        await until(() => rec.count('work') === 2, 'two members to run');
        await swarm.interrupt();
        await delay(200);
        gate.release();
        await swarm.resume();
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([0, 1, 2, 3, 4, 5]);
        await until(() => rec.count('done') === 1, 'the swarm callback');
        expect(rec.count('work')).toBe(8); // the two interrupted members ran again
        expect(new Set(rec.values('work').map((v: any) => v.i))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
      }, testTimeout);

      it('canceling a running swarm stops its members and deletes every key of its tree', async () => {
        const { mf, rec, task } = await setup();
        const aborted: number[] = [];
        const work = task('work', ({ i }, ctx) => new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => (aborted.push(i), reject(ctx!.signal.reason)))));
        const done = task('done');
        await mf.start();
        const swarm = await mf.swarm(Array.from({ length: 5 }, (_, i) => ({ task: work, kwargs: { i } })), { config: { maxConcurrency: 2 }, success: done });
        await swarm.runNoWait({});
        await until(() => rec.count('work') === 2, 'two members to run');
        const keys = [swarm.key, ...(await mf.store.swarmMembers(swarm.key)), ...swarm.successCallbacks];
        await swarm.cancel({ confirm: true });
        await until(() => aborted.length === 2, 'the running members to see the abort');
        for (const key of keys) expect(await mf.load(key)).toBeNull();
        await expectNoKeysOf(keys);
        await expect(swarm.wait({ timeoutMs: wait })).rejects.toBeInstanceOf(TaskCanceledError);
        await delay(300);
        expect(rec.count('work')).toBe(2);
        expect(rec.count('done')).toBe(0);
      }, testTimeout);

      it('cancel needs confirmation, deletes the whole tree, keeps an audit record', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        const onOk = task('on-ok');
        await mf.start();
        const chain = await mf.chain([work, work], { success: onOk });
        await expect(chain.cancel()).rejects.toBeInstanceOf(ConfirmationRequiredError);
        const keys = [chain.key, ...((await mf.load(chain.key))!.toJSON().members ?? []), ...chain.successCallbacks];
        await chain.cancel({ confirm: true });
        for (const key of keys) expect(await mf.load(key)).toBeNull();
        await expectNoKeysOf(keys);
        const audit = await mf.auditLog(chain.key);
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({ action: 'cancel', key: chain.key });
        expect(new Set(audit[0]!.keys)).toEqual(new Set(keys));
        await expect(chain.resume()).rejects.toBeInstanceOf(SignatureNotFoundError);
      }, testTimeout);

      it('canceling a running chain member ends the chain as failed; nothing hangs', async () => {
        const { mf, rec, task } = await setup();
        let abortSeen = false;
        const a = task('a');
        const b = task('b', (_i, ctx) => new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => ((abortSeen = true), reject(ctx!.signal.reason)))));
        const c = task('c');
        const failed = task('failed');
        await mf.start();
        const chain = await mf.chain([a, b, c], { error: failed });
        await chain.runNoWait({});
        await until(() => rec.count('b') === 1, 'member b to run');
        const member = (await mf.load(chain.key))!.toJSON().members![1]!;
        await mf.cancel(member, { confirm: true });
        await expect(chain.wait({ timeoutMs: wait })).rejects.toThrow(/gone|cancel/i);
        await until(() => rec.count('failed') === 1, 'the chain error callback');
        await until(() => abortSeen, 'the member body to see the abort');
        expect(rec.count('c')).toBe(0);
        expect(await mf.load(member)).toBeNull();
        await expectNoKeysOf([member]);
      }, testTimeout);

      it('interrupting a chain mid-step and resuming runs the interrupted step again and goes on', async () => {
        const { mf, rec, task } = await setup();
        let calls = 0;
        const a = task('a', (n) => n + 1);
        const b = task('b', (n, ctx) => {
          calls += 1;
          if (calls > 1) return n + 10;
          return new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => reject(ctx!.signal.reason)));
        });
        const c = task('c', (n) => n * 2);
        await mf.start();
        const chain = await mf.chain([a, b, c]);
        await chain.runNoWait(1);
        await until(() => rec.count('b') === 1, 'step b to run');
        await chain.interrupt();
        expect(await statusOf(mf, chain.key)).toBe('interrupted');
        const member = (await mf.load(chain.key))!.toJSON().members![1]!;
        expect(await statusOf(mf, member)).toBe('interrupted');
        await delay(200);
        expect(rec.count('c')).toBe(0);
        await chain.resume();
        expect(await chain.wait({ timeoutMs: wait })).toBe(24);
        expect(rec.values('b')).toEqual([2, 2]);
        expect(rec.count('c')).toBe(1);
      }, testTimeout);

      it('canceling a running swarm member counts it as failed; the swarm still ends', async () => {
        const { mf, rec, task } = await setup();
        const gate = new Gate();
        const work = task('work', async ({ i }) => (i === 0 ? gate.opened.then(() => i) : i));
        const done = task('done');
        await mf.start();
        const members = await Promise.all(Array.from({ length: 5 }, (_, i) => mf.sign(work, { kwargs: { i } })));
        const swarm = await mf.swarm(members, { config: { maxConcurrency: 5 }, success: done });
        await swarm.close();
        await swarm.runNoWait({});
        await until(() => rec.count('work') === 5, 'all members to start');
        await members[0]!.cancel({ confirm: true });
        expect(await swarm.wait({ timeoutMs: wait })).toEqual([1, 2, 3, 4]);
        expect((await swarm.counts()).failed).toBe(1);
        gate.release();
        await expect(swarm.addTask(work)).rejects.toThrow();
        await swarm.cancel({ confirm: true });
        await expect(swarm.addTask(work)).rejects.toBeInstanceOf(SwarmIsCanceledError);
      }, testTimeout);

      it('remove marks for deletion with an expiry; resume within the window restores it', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        const onErr = task('on-err');
        await mf.start();
        const sig = await mf.sign(work, { errorCallbacks: [onErr] });
        await sig.remove();
        const marked = (await mf.load(sig.key))!.toJSON();
        expect(marked.status).toBe('marked_for_deletion');
        expect(marked.deleteAt).toBeGreaterThan(Date.now());
        expect(await statusOf(mf, sig.errorCallbacks[0]!)).toBe('marked_for_deletion');
        await sig.resume();
        expect(await statusOf(mf, sig.key)).toBe('pending');
        if (env!.recordTtl) expect(await env!.recordTtl(sig.key)).toBeGreaterThan(3600); // back to the active TTL
        expect(await sig.run({ back: true }, { timeoutMs: wait })).toEqual({ back: true });
      }, testTimeout);

      it('a task running when its signature is marked for deletion completes normally', async () => {
        const { mf, rec, task } = await setup();
        const gate = new Gate();
        const work = task('work', async () => (await gate.opened, 'finished'));
        const onOk = task('on-ok');
        await mf.start();
        const sig = await mf.sign(work, { successCallbacks: [onOk] });
        await sig.runNoWait({});
        await until(() => rec.count('work') === 1, 'the task to run');
        await sig.remove({ withSuccess: false });
        gate.release();
        await until(() => rec.count('on-ok') === 1, 'the success callback');
        const record = (await mf.load(sig.key))!.toJSON();
        expect(record).toMatchObject({ status: 'marked_for_deletion', lastStatus: 'done', result: { value: 'finished' } });
      }, testTimeout);

      it('the cleanup sweep deletes signatures whose deletion window has passed', async () => {
        const { mf, task } = await setup({ ttl: { doneTtl: 1 } });
        const work = task('work');
        await mf.start();
        const sig = await mf.sign(work);
        await sig.remove();
        await delay(1100);
        const report = await mf.recover();
        expect(report.deleted).toContain(sig.key);
        expect(await mf.load(sig.key)).toBeNull();
        expect((await mf.auditLog(sig.key))[0]).toMatchObject({ action: 'expire' });
      }, testTimeout);

      it('a locked signature refuses status changes and deletion until released', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        await mf.start();
        const sig = await mf.sign(work);
        const lock = await mf.lock(sig.key, { leaseMs: 5000 });
        await expect(sig.suspend()).rejects.toBeInstanceOf(SignatureLockedError);
        await expect(mf.delete(sig.key)).rejects.toBeInstanceOf(SignatureLockedError);
        expect(await statusOf(mf, sig.key)).toBe('pending');
        await lock.release();
        await sig.suspend();
        expect(sig.status).toBe('suspended');
        const value = await mf.lock(sig.key, async () => 'inside', { leaseMs: 5000 });
        expect(value).toBe('inside');
        await sig.resume();
      }, testTimeout);
    });

    describe('bad input', () => {
      it('operations on a missing key raise SignatureNotFoundError', async () => {
        const { mf } = await setup();
        const missing = 'task:00000000-0000-0000-0000-000000000000';
        for (const op of [mf.suspend, mf.interrupt, mf.resume, mf.remove] as ((k: string) => Promise<void>)[]) {
          await expect(op(missing)).rejects.toBeInstanceOf(SignatureNotFoundError);
        }
        await expect(mf.runNoWait(missing, {})).rejects.toBeInstanceOf(SignatureNotFoundError);
        await expect(mf.cancel(missing, { confirm: true })).rejects.toBeInstanceOf(SignatureNotFoundError);
        expect(await mf.load(missing)).toBeNull();
      }, testTimeout);

      it('operations out of order, or on a finished signature, raise InvalidTransitionError and change nothing', async () => {
        const { mf, task } = await setup();
        const work = task('work');
        await mf.start();
        const pending = await mf.sign(work);
        await pending.resume(); // a repeat (it is already live): a no-op
        const paused = await mf.sign(work);
        await paused.interrupt();
        await expect(paused.suspend()).rejects.toBeInstanceOf(InvalidTransitionError);
        expect(await statusOf(mf, paused.key)).toBe('interrupted');
        const finished = await mf.sign(work);
        await finished.run({}, { timeoutMs: wait });
        const before = (await mf.load(finished.key))!.toJSON();
        for (const op of ['suspend', 'interrupt', 'resume'] as const) {
          await expect(finished[op]()).rejects.toBeInstanceOf(InvalidTransitionError);
        }
        await expect(finished.runNoWait({})).rejects.toBeInstanceOf(InvalidTransitionError);
        expect((await mf.load(finished.key))!.toJSON()).toEqual(before);
        expect(await statusOf(mf, pending.key)).toBe('pending');
      }, testTimeout);

      it('an unknown task, invalid kwargs, or a too-short chain raise typed errors and store nothing', async () => {
        const { mf, task } = await setup();
        const typed = task('typed', (i) => i, { input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'], additionalProperties: false } });
        await expect(mf.sign('no-such-task')).rejects.toMatchObject({ code: 'UNRECOGNIZED_TASK' });
        await expect(mf.sign(typed, { kwargs: { n: 'x' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        await expect(mf.sign(typed, { kwargs: { other: 1 } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        await expect(mf.chain([typed])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        if (env!.keysWithTtl) expect([...(await env!.keysWithTtl()).keys()]).toEqual([]);
      }, testTimeout);
    });

    describeHardening({ setup, until, env: () => env!, wait, testTimeout });
    describeCleanup({ setup, until, env: () => env!, wait, testTimeout });
    describeMemberCallbacks({ setup, until, env: () => env!, wait, testTimeout });
    describeGraphs({ setup, until, env: () => env!, wait, testTimeout });
    describePriority({ setup, until, env: () => env!, wait, testTimeout });

    describe('time to live', () => {
      it('leaves no key without a TTL, and none above the configured maximum, after workflows finish', async () => {
        const { mf, task } = await setup({ ttl: { activeTtl: 600, doneTtl: 60, swarm: { ttlWhenSignDone: 120 } } });
        if (!env!.keysWithTtl) return;
        const step = task('step', (n) => (typeof n === 'number' ? n + 1 : 1));
        const fail = task('fail', () => {
          throw new Error('x');
        });
        const cb = task('cb');
        await mf.start();
        const chain = await mf.chain([step, step], { success: cb, error: cb });
        await chain.run(0, { timeoutMs: wait });
        const swarm = await mf.swarm([step, step, await mf.sign(fail, { errorCallbacks: [cb] })], { success: cb, error: cb });
        await swarm.close();
        await swarm.run({}, { timeoutMs: wait });
        await delay(300);
        const ttls = await env!.keysWithTtl();
        expect(ttls.size).toBeGreaterThan(0);
        for (const [key, ttl] of ttls) {
          expect([key, ttl > 0]).toEqual([key, true]);
          expect([key, ttl <= 600]).toEqual([key, true]);
        }
        // finished signatures and the callback branch that never ran carry the done TTL
        if (env!.recordTtl) {
          expect(await env!.recordTtl(chain.key)).toBeLessThanOrEqual(60);
          expect(await env!.recordTtl(swarm.key)).toBeLessThanOrEqual(120);
          expect(await env!.recordTtl(chain.errorCallbacks[0]!)).toBeLessThanOrEqual(60);
        }
      }, testTimeout);
    });
  });
}
