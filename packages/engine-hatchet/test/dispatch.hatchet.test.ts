/**
 * Dispatches made at the same moment share bulk triggers: every run still reaches
 * its own caller's run id, and runs once.
 */
import { uniqueId, waitUntil } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;

suite('Hatchet dispatch', () => {
  let engine: HatchetEngine;
  afterEach(async () => {
    await engine.stop();
  });

  it('concurrent dispatches each get the run id of their own run, and every run runs once', async () => {
    engine = new HatchetEngine({ taskPrefix: `${uniqueId('hdisp')}-` });
    const seen: { runId: string; n: number; key: string | undefined }[] = [];
    engine.register({
      name: 'echo',
      retries: 0,
      handler: async (run) => {
        seen.push({ runId: run.runId, n: (run.input as { n: number }).n, key: run.metadata.mageflow_key });
        return null;
      },
    });
    await engine.start();

    const single = Array.from({ length: 30 }, (_, n) => engine.dispatch({ task: 'echo', input: { n }, metadata: { mageflow_key: `k${n}` } }));
    const many = engine.dispatchMany(Array.from({ length: 20 }, (_, i) => ({ task: 'echo', input: { n: 30 + i }, metadata: { mageflow_key: `k${30 + i}` } })));
    const ids = [...(await Promise.all(single)).map((r) => r.runId), ...(await many).map((r) => r.runId)];

    expect(new Set(ids).size).toBe(50);
    await waitUntil(() => seen.length >= 50, 'all 50 runs', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a run sent twice would show up by now
    expect(seen).toHaveLength(50);
    for (const { runId, n, key } of seen) {
      expect(ids[n]).toBe(runId);
      expect(key).toBe(`k${n}`);
    }
  }, 90_000);
});
