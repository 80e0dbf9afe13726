/**
 * The Engine conformance suite: every Engine implementation runs it.
 *
 *   describeEngineConformance('hatchet', async () => ({ engine: new HatchetEngine(...), cleanup }));
 *
 * Task names carry a unique prefix per test, so engines shared between tests
 * (one Hatchet server) cannot hand one test's runs to another's handlers.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { TaskCanceledError, type Engine, type EngineRun } from '@mageflow/core';
import { delay, uniqueId, waitUntil } from './helpers';

export interface EngineHarness {
  engine: Engine;
  cleanup?(): Promise<void>;
}
export type EngineFactory = () => Promise<EngineHarness> | EngineHarness;

export interface EngineConformanceOptions {
  /** how long to wait for a run to be picked up and finish. Default 20 s. */
  timeoutMs?: number;
}

export function describeEngineConformance(name: string, factory: EngineFactory, options: EngineConformanceOptions = {}): void {
  const wait = options.timeoutMs ?? 20_000;

  describe(`Engine conformance: ${name}`, () => {
    let harness: EngineHarness | undefined;
    afterEach(async () => {
      await harness?.engine.stop();
      await harness?.cleanup?.();
      harness = undefined;
    });

    async function started(define: (engine: Engine, task: (label: string) => string) => void) {
      harness = await factory();
      const prefix = uniqueId('eng');
      define(harness.engine, (label) => `${prefix}-${label}`);
      await harness.engine.start();
      return harness.engine;
    }

    it('runs a dispatched task with its input and metadata, and reports its run id', async () => {
      const seen: EngineRun[] = [];
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('echo');
        e.register({ name: taskName, retries: 0, handler: async (run) => (seen.push(run), { got: run.input }) });
      });
      const { runId } = await engine.dispatch({ task: taskName, input: { n: 1, nested: { s: 'x' } }, metadata: { mageflow_key: 'k1' } });
      await waitUntil(() => seen.length === 1, 'the run', wait);
      expect(seen[0]).toMatchObject({ runId, input: { n: 1, nested: { s: 'x' } }, attempt: 1, maxAttempts: 1 });
      expect(seen[0]!.metadata.mageflow_key).toBe('k1');
      expect(seen[0]!.signal.aborted).toBe(false);
    }, wait + 10_000);

    it('dispatches many runs in one call', async () => {
      const seen = new Set<number>();
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('many');
        e.register({ name: taskName, retries: 0, handler: async (run) => void seen.add((run.input as { i: number }).i) });
      });
      const refs = await engine.dispatchMany(Array.from({ length: 25 }, (_, i) => ({ task: taskName, input: { i } })));
      expect(new Set(refs.map((r) => r.runId)).size).toBe(25);
      await waitUntil(() => seen.size === 25, '25 runs', wait);
    }, wait + 10_000);

    it('runs a dispatch under the run id the caller chose, when it accepts run ids', async () => {
      const seen: EngineRun[] = [];
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('chosen');
        e.register({ name: taskName, retries: 1, handler: async (run) => void seen.push(run) });
      });
      if (!engine.acceptRunIds) return; // the runtime then begins each run itself
      const chosen = [`${uniqueId('run')}.0`, `${uniqueId('run')}.1`];
      const refs = await engine.dispatchMany(chosen.map((runId, i) => ({ task: taskName, input: { i }, runId })));
      expect(refs.map((r) => r.runId)).toEqual(chosen);
      await waitUntil(() => seen.length === 2, 'both runs', wait);
      expect(seen.map((r) => r.runId).sort()).toEqual([...chosen].sort());
    }, wait + 10_000);

    it('retries a failing attempt with increasing attempt numbers', async () => {
      const attempts: [number, number][] = [];
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('flaky');
        e.register({
          name: taskName,
          retries: 2,
          handler: async (run) => {
            attempts.push([run.attempt, run.maxAttempts]);
            if (run.attempt < 3) throw new Error(`attempt ${run.attempt} fails`);
            return 'ok';
          },
        });
      });
      await engine.dispatch({ task: taskName, input: {} });
      await waitUntil(() => attempts.length === 3, 'three attempts', wait);
      await delay(300);
      expect(attempts).toEqual([[1, 3], [2, 3], [3, 3]]);
    }, wait + 10_000);

    it('does not retry an error marked not retryable', async () => {
      let calls = 0;
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('fatal');
        e.register({
          name: taskName,
          retries: 3,
          handler: async () => {
            calls += 1;
            throw Object.assign(new Error('no point retrying'), { retryable: false });
          },
        });
      });
      await engine.dispatch({ task: taskName, input: {} });
      await waitUntil(() => calls === 1, 'the attempt', wait);
      await delay(1500);
      expect(calls).toBe(1);
    }, wait + 10_000);

    it('fires the signal of a running attempt on cancel and does not retry it', async () => {
      let attempts = 0;
      let abortedWith: unknown;
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('long');
        e.register({
          name: taskName,
          retries: 2,
          handler: (run) =>
            new Promise((_, reject) => {
              attempts += 1;
              run.signal.addEventListener('abort', () => ((abortedWith = run.signal.reason), reject(run.signal.reason)));
            }),
        });
      });
      const { runId } = await engine.dispatch({ task: taskName, input: {} });
      await waitUntil(() => attempts === 1, 'the run to start', wait);
      await engine.cancel(runId);
      await waitUntil(() => abortedWith !== undefined, 'the abort', wait);
      expect(abortedWith).toBeInstanceOf(TaskCanceledError);
      await delay(1500);
      expect(attempts).toBe(1);
    }, wait + 10_000);

    it('times out an attempt: the signal fires and the attempt counts as a failure', async () => {
      const attempts: number[] = [];
      let aborts = 0;
      let taskName = '';
      const engine = await started((e, t) => {
        taskName = t('slow');
        e.register({
          name: taskName,
          retries: 1,
          timeoutMs: 1000,
          handler: (run) =>
            new Promise((_, reject) => {
              attempts.push(run.attempt);
              run.signal.addEventListener('abort', () => ((aborts += 1), reject(run.signal.reason)));
            }),
        });
      });
      await engine.dispatch({ task: taskName, input: {} });
      await waitUntil(() => attempts.length === 2 && aborts === 2, 'two timed-out attempts', wait + 10_000);
      expect(attempts).toEqual([1, 2]);
    }, wait + 20_000);

    it('ignores cancel of an unknown run', async () => {
      const engine = await started(() => {});
      await expect(engine.cancel('00000000-0000-0000-0000-000000000000')).resolves.toBeUndefined();
    }, wait);
  });
}
