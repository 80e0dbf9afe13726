/**
 * The fault-tolerance suite: a worker dies at the k-th store write of a running
 * workflow, for every k; a fresh worker on the same store recovers it. The
 * workflow must finish with every callback fired exactly once and every count
 * right. Also: a large swarm never exceeds its cap and fires once.
 */
import { describe, expect, it } from '@jest/globals';
import { Mageflow, memberCallbackKey, withCtx, type Engine, type Signature, type Store, type TaskContext } from '@mageflow/core';
import { faultyStore, countingStore } from './faulty-store';
import { Recorder, delay, uniqueId, waitUntil } from './helpers';

export interface FaultEnv {
  /** a fresh, empty store for one attempt. */
  store(): Promise<Store>;
  engine(): Engine;
  cleanup?(): Promise<void>;
}
export type FaultFactory = () => Promise<FaultEnv>;

export interface FaultToleranceOptions {
  /** check every k up to this many writes (all of them by default). */
  maxWrites?: number;
  /** size of the concurrency swarm. Default 1000. */
  swarmSize?: number;
  timeoutMs?: number;
  /** the workflows to break (all by default): a store built over another that passes them all may run a few. */
  workflows?: readonly Workflow[];
}

/**
 * `callbacks`: a swarm whose members fire per-member callbacks (their ends take the settle path, not the fused one).
 * `graph`: a branch taken and one skipped, joined again (a -> b when >= 1, a -> c when < 0, b -> d, c -> d).
 */
export type Workflow = 'chain' | 'swarm' | 'callbacks' | 'graph';
const WORKFLOWS: readonly Workflow[] = ['chain', 'swarm', 'callbacks', 'graph'];
const TITLE: Record<Workflow, string> = { chain: 'chain', swarm: 'swarm', callbacks: 'swarm with per-member callbacks', graph: 'graph with a branch, a skip and a join' };

/** Task bodies and the workflow under test, registered identically on every worker. */
function defineTasks(mf: Mageflow, prefix: string, rec: Recorder) {
  const t = (l: string) => `${prefix}-${l}`;
  mf.task(t('step'), async (n: unknown) => (rec.record('step', n), typeof n === 'number' ? n + 1 : 1));
  mf.task(t('member'), async ({ i }: { i: number }) => (rec.record('member', i), i * 2));
  mf.task(t('ok'), withCtx(async (_v: unknown, ctx: TaskContext) => void rec.record('ok', { worker: mf.workerId, runId: ctx.runId })));
  mf.task(t('err'), async (v: unknown) => void rec.record('err', v));
  mf.task(t('cleanup'), withCtx(async (_v: unknown, ctx: TaskContext) => void rec.record('cleanup', { worker: mf.workerId, runId: ctx.runId })));
  mf.task(t('join'), async (parents: Record<string, number>) => (rec.record('join', parents), Object.values(parents).reduce((a, b) => a + b, 0) * 10));
  mf.task(t('each'), withCtx(async (m: { key: string }, ctx: TaskContext) => void rec.record('each', { member: m.key, runId: ctx.runId })));
  return t;
}

async function buildWorkflow(mf: Mageflow, t: (l: string) => string, kind: Workflow) {
  if (kind === 'chain') return mf.chain([t('step'), t('step'), t('step')], { success: t('ok'), error: t('err'), cleanup: t('cleanup') });
  if (kind === 'graph') {
    return mf.graph({
      nodes: { a: t('step'), b: t('step'), c: t('step'), d: t('join') },
      edges: [
        { from: 'a', to: 'b', when: { gte: 1 } },
        { from: 'a', to: 'c', when: { lt: 0 } },
        { from: 'b', to: 'd' },
        { from: 'c', to: 'd' },
      ],
      success: t('ok'),
      error: t('err'),
      cleanup: t('cleanup'),
    });
  }
  // mixed priorities, so claims by priority go through every crash too
  const priorities = ['low', 'high', 'medium'] as const;
  const members = await Promise.all([0, 1, 2, 3, 4].map((i) => mf.sign(t('member'), { kwargs: { i }, priority: priorities[i % 3] })));
  const perMember = kind === 'callbacks' ? { memberSuccess: t('each') } : {};
  const swarm = await mf.swarm(members, { config: { maxConcurrency: 2 }, success: t('ok'), error: t('err'), cleanup: t('cleanup'), ...perMember });
  await swarm.close();
  return swarm;
}

const EXPECTED: Record<Workflow, unknown> = { chain: 3, swarm: [0, 2, 4, 6, 8], callbacks: [0, 2, 4, 6, 8], graph: { d: 20 } };
/** chain and graph members take a number; swarm members have kwargs, so their message is an object. */
const MESSAGE: Record<Workflow, unknown> = { chain: 0, swarm: {}, callbacks: {}, graph: 0 };
/** what a container's counters hold at its end (a chain's are not checked; a graph counts the nodes that ran). */
const COUNTS: Partial<Record<Workflow, { total: number; done: number }>> = { swarm: { total: 5, done: 5 }, callbacks: { total: 5, done: 5 }, graph: { total: 3, done: 3 } };

export function describeFaultTolerance(name: string, factory: FaultFactory, options: FaultToleranceOptions = {}): void {
  const wait = options.timeoutMs ?? 20_000;

  describe(`Fault tolerance: ${name}`, () => {
    for (const kind of options.workflows ?? WORKFLOWS) {
      it(`a ${TITLE[kind]} survives a worker crash at every store write`, async () => {
        const env = await factory();
        try {
          // One clean run counts the writes a run makes (creation excluded).
          const clean = countingStore(await env.store());
          const writes = await runOnce(env, clean.store, kind, wait);
          expect(writes.result).toEqual(EXPECTED[kind]);
          const total = Math.min(clean.writes() - writes.creationWrites, options.maxWrites ?? Infinity);
          expect(total).toBeGreaterThan(5);
          console.log(`[${name}] ${kind}: injecting a crash at each of ${total} store writes`);

          for (let k = 1; k <= total; k++) {
            const outcome = await crashAndRecover(env, kind, writes.creationWrites + k, wait);
            expect({ k, ...outcome }).toEqual({ k, ...outcome, result: EXPECTED[kind], okCompleted: 1, cleanupCompleted: 1, err: 0 });
            // The survivor runs the callback at most once, and only if the dead worker never
            // recorded its completion (a crash mid-body: the engine's at-least-once retry).
            expect({ k, survivor: outcome.okRunsOnSurvivor, deadCompleted: outcome.okCompletedByDead }).toEqual(
              outcome.okCompletedByDead ? { k, survivor: 0, deadCompleted: true } : { k, survivor: 1, deadCompleted: false },
            );
            if (COUNTS[kind]) expect({ k, counts: outcome.counts }).toMatchObject({ k, counts: { ...COUNTS[kind], failed: 0, running: 0, queued: 0 } });
            if (kind === 'graph') expect({ k, join: outcome.joins }).toEqual({ k, join: [{ b: 2 }] });
            if (kind === 'callbacks') expect({ k, each: outcome.eachCompleted }).toEqual({ k, each: [1, 1, 1, 1, 1] });
          }
        } finally {
          await env.cleanup?.();
        }
      }, 600_000);
    }

    for (const kind of options.workflows ?? WORKFLOWS) {
      it(`a ${TITLE[kind]} survives a lost reply at every store write in a live worker (its sweep repairs it)`, async () => {
        const env = await factory();
        try {
          const clean = countingStore(await env.store());
          const writes = await runOnce(env, clean.store, kind, wait);
          const total = Math.min(clean.writes() - writes.creationWrites, options.maxWrites ?? Infinity);
          for (let k = 1; k <= total; k++) {
            const outcome = await loseReplyAndRepair(env, kind, writes.creationWrites + k, wait);
            expect({ k, ...outcome }).toEqual({
              k, result: EXPECTED[kind], ok: 1, cleanup: 1, err: 0,
              ...(COUNTS[kind] ? { counts: expect.objectContaining({ done: COUNTS[kind]!.done, failed: 0, running: 0 }) } : {}),
              ...(kind === 'callbacks' ? { each: [1, 1, 1, 1, 1] } : {}),
            });
          }
        } finally {
          await env.cleanup?.();
        }
      }, 600_000);
    }

    it(`a swarm of ${options.swarmSize ?? 1000} members at maxConcurrency 7 never runs more than 7 and fires once`, async () => {
      const env = await factory();
      const size = options.swarmSize ?? 1000;
      const mf = new Mageflow({ store: await env.store(), engine: env.engine(), config: { sweepEveryMs: false } });
      try {
        const prefix = uniqueId('cc');
        let running = 0;
        let maxRunning = 0;
        const ran = new Map<number, number>();
        const rec = new Recorder();
        mf.task(`${prefix}-m`, async ({ i }: { i: number }) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          ran.set(i, (ran.get(i) ?? 0) + 1);
          await delay(i % 3);
          running -= 1;
          return i;
        });
        mf.task(`${prefix}-done`, async (results: number[]) => void rec.record('done', results.length));
        await mf.start();
        const swarm = await mf.swarm([], { config: { maxConcurrency: 7 }, success: `${prefix}-done` });
        await swarm.addTasks(await Promise.all(Array.from({ length: size }, (_, i) => mf.sign(`${prefix}-m`, { kwargs: { i } }))));
        await swarm.close();
        await swarm.runNoWait({});
        await swarm.wait({ timeoutMs: wait * 5 });
        await waitUntil(() => rec.count('done') === 1, 'the swarm callback', wait);
        await delay(100);
        console.log(`[${name}] swarm of ${size} at maxConcurrency 7: max running seen = ${maxRunning}`);
        expect(maxRunning).toBeLessThanOrEqual(7);
        expect(maxRunning).toBeGreaterThan(1);
        expect(ran.size).toBe(size);
        expect([...ran.values()].every((n) => n === 1)).toBe(true);
        expect(rec.values('done')).toEqual([size]);
      } finally {
        await mf.stop();
        await env.cleanup?.();
      }
    }, 600_000);
  });
}

/** A run on a healthy store, counting its writes. */
async function runOnce(env: FaultEnv, store: Store, kind: Workflow, wait: number) {
  const counting = countingStore(store);
  const mf = new Mageflow({ store: counting.store, engine: env.engine(), config: { sweepEveryMs: false, recoverOnStart: false } });
  const rec = new Recorder();
  const t = defineTasks(mf, uniqueId('ft'), rec);
  const workflow = await buildWorkflow(mf, t, kind);
  const creationWrites = counting.writes();
  await mf.start();
  const result = await workflow.run(MESSAGE[kind], { timeoutMs: wait });
  await waitUntil(() => rec.count('ok') === 1 && rec.count('cleanup') === 1, 'the callback and the cleanup', wait);
  await mf.stop();
  return { result, creationWrites };
}

/**
 * Worker A runs the workflow and dies at write `failAt`. Worker B, on the same
 * store, sweeps (and starts the workflow itself if A died before it started).
 */
async function crashAndRecover(env: FaultEnv, kind: Workflow, failAt: number, wait: number) {
  const base = await env.store();
  const prefix = uniqueId('ft');
  const rec = new Recorder();
  const fault = faultyStore(base, { failAt, crash: true });
  const a = new Mageflow({
    store: fault.store,
    engine: env.engine(),
    config: { sweepEveryMs: false, recoverOnStart: false, workerTtlMs: 150, heartbeatMs: 50, logger: silent },
  });
  const t = defineTasks(a, prefix, rec);
  const workflow = await buildWorkflow(a, t, kind);
  await a.start();
  await workflow.runNoWait(MESSAGE[kind]).catch(() => undefined);
  await waitUntil(() => fault.tripped(), `the injected failure at write ${failAt}`, wait).catch(() => undefined);
  await delay(50);
  await a.stop(); // A is dead: its store is gone, its engine stops

  await delay(200); // A's heartbeat runs out
  const b = new Mageflow({ store: base, engine: env.engine(), config: { sweepEveryMs: false, recoverOnStart: false, logger: silent } });
  defineTasks(b, prefix, rec);
  await b.start();
  // A died before the workflow started: the caller's runNoWait failed, so it calls it again.
  if ((await b.load(workflow.key))?.status === 'pending') await b.runNoWait(workflow.key, MESSAGE[kind]);
  let result: unknown;
  for (let round = 0; ; round++) {
    await b.recover();
    try {
      result = await b.waitFor(workflow.key, { timeoutMs: 300 });
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'WAIT_TIMEOUT' || round > wait / 300) throw error;
    }
  }
  const done = (key: string, what: string) =>
    waitUntil(async () => {
      const r = await base.getRecord(key);
      return r?.status === 'done' ? r : undefined;
    }, what, wait);
  const callback = await done(workflow.successCallbacks[0]!, 'the success callback to complete');
  const cleanup = await done(workflow.cleanupCallbacks[0]!, 'the cleanup to complete');
  await b.recover();
  await delay(100);
  const counts = COUNTS[kind] ? await base.swarmCounts(workflow.key) : undefined;
  const eachCompleted = kind === 'callbacks' ? await memberCallbacksCompleted(base, workflow, rec, wait) : undefined;
  await b.stop();
  const okRuns = rec.values('ok') as { worker: string; runId: string }[];
  const cleanupRuns = rec.values('cleanup') as { worker: string; runId: string }[];
  return {
    result,
    okCompleted: okRuns.filter((r) => r.runId === callback.runId).length,
    cleanupCompleted: cleanupRuns.filter((r) => r.runId === cleanup.runId).length,
    okRunsOnSurvivor: okRuns.filter((r) => r.worker === b.workerId).length,
    okCompletedByDead: okRuns.some((r) => r.worker === a.workerId && r.runId === callback.runId),
    err: rec.count('err'),
    counts,
    eachCompleted,
    // the join's runs that completed it (a run cut short by the crash may have recorded its input too)
    joins: kind === 'graph' ? await completedJoins(base, workflow, rec) : undefined,
  };
}

/** The join node's inputs, once it is done (what its completing run was given). */
async function completedJoins(store: Store, graph: Signature, rec: Recorder): Promise<unknown[]> {
  const d = (await store.getRecord((await store.getRecord(graph.key))!.members![3]!))!;
  expect(d.status).toBe('done');
  return rec.values('join').slice(-1);
}

/** For each member of the swarm: how many runs of its per-member callback completed it (1 each, or the count is wrong). */
async function memberCallbacksCompleted(store: Store, swarm: Signature, rec: Recorder, wait: number): Promise<number[]> {
  const template = (await store.getRecord(swarm.key))!.memberSuccessCallbacks![0]!;
  const runs = rec.values('each') as { member: string; runId: string }[];
  const completed: number[] = [];
  for (const member of await store.swarmMembers(swarm.key)) {
    const copy = await waitUntil(async () => {
      const r = await store.getRecord(memberCallbackKey(template, member));
      return r?.status === 'done' ? r : undefined;
    }, `the callback of ${member}`, wait);
    completed.push(runs.filter((r) => r.member === member && r.runId === copy.runId).length);
  }
  return completed;
}

/**
 * One worker runs the workflow; its `failAt`-th write applies but the reply is lost
 * (the step fails midway, the worker lives on). Its own sweep must repair the step.
 */
async function loseReplyAndRepair(env: FaultEnv, kind: Workflow, failAt: number, wait: number) {
  const base = await env.store();
  const rec = new Recorder();
  const fault = faultyStore(base, { failAt, crash: false, replyLost: true });
  const mf = new Mageflow({ store: fault.store, engine: env.engine(), config: { sweepEveryMs: 100, recoverOnStart: false, logger: silent } });
  try {
    const t = defineTasks(mf, uniqueId('fr'), rec);
    const workflow = await buildWorkflow(mf, t, kind);
    await mf.start();
    // The caller sees the start fail when its own write lost its reply, and tries again.
    await workflow.runNoWait(MESSAGE[kind]).catch(async () => {
      if ((await mf.load(workflow.key))?.status === 'pending') await mf.runNoWait(workflow.key, MESSAGE[kind]);
    });
    const result = await mf.waitFor(workflow.key, { timeoutMs: wait });
    await waitUntil(() => rec.count('ok') >= 1 && rec.count('cleanup') >= 1, 'the success callback and the cleanup', wait);
    await delay(300); // a few more sweeps: nothing runs twice
    const counts = COUNTS[kind] ? { counts: await base.swarmCounts(workflow.key) } : {};
    const each = kind === 'callbacks' ? { each: await memberCallbacksCompleted(base, workflow, rec, wait) } : {};
    return { result, ok: rec.count('ok'), cleanup: rec.count('cleanup'), err: rec.count('err'), ...counts, ...each };
  } finally {
    await mf.stop();
  }
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
