/**
 * The worker side of the two-process race suite (process-races.ts), kept apart from
 * the package's entry so a plain Node process can load it without jest.
 */
import { InProcessEngine, Mageflow, type Store } from '@mageflow/core';

/** Appends a value to a list every process sees (a Redis list, a table, ...). */
export type RaceLog = (list: string, value: string) => Promise<unknown>;

/**
 * One worker process of the race suite: its own runtime with an in-process engine on
 * `store`. It logs every member body it runs, takes part in the swarm through its
 * sweeps (joining, and taking over from dead workers) until the swarm ends, then exits.
 *
 * env: SWARM (key), NAME, START ('1': this one starts the swarm), SLOTS,
 *      CHAOS ('1': this one also suspends and resumes the swarm over and over while it runs)
 */
export async function runRaceWorker(store: Store, log: RaceLog): Promise<never> {
  const env = process.env as Record<string, string>;
  const { NAME, START } = env;
  const SWARM = env.SWARM!;
  const mf = new Mageflow({
    store,
    engine: new InProcessEngine({ slots: Number(env.SLOTS ?? 10) }),
    config: { workerId: `${NAME}:${process.pid}`, heartbeatMs: 200, workerTtlMs: 1000, sweepEveryMs: 250, logger: { debug() {}, info() {}, warn() {}, error: (m, f) => console.error(NAME, m, f) } },
  });
  mf.task('member', async ({ i }: { i: number }) => {
    await log('started', `${NAME}:${i}`);
    await new Promise((r) => setTimeout(r, 1 + (i % 5)));
    await log('ended', `${NAME}:${i}`);
    return i;
  });
  mf.task('done', async (results: number[]) => void (await log('callbacks', `${NAME}:${results.length}`)));

  /** Suspend and resume fired again and again, racing the members' completions. */
  async function chaos() {
    const pause = () => new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
    while ((await store.getRecord(SWARM))?.status !== 'active') await pause(); // started by the other worker
    for (let i = 0; i < 30; i++) {
      await pause();
      if (await mf.suspend(SWARM).then(() => true, () => false)) await log('chaos', 'suspended');
      await pause();
      // resume until it takes: it may race a completion and must never be lost
      while ((await store.getRecord(SWARM))?.status === 'suspended') {
        if (await mf.resume(SWARM).then(() => true, () => false)) await log('chaos', 'resumed');
      }
    }
  }

  await mf.start();
  if (START === '1') await mf.runNoWait(SWARM, {});
  process.send?.('ready');
  if (env.CHAOS === '1') void chaos();
  for (;;) {
    const swarm = await store.getRecord(SWARM);
    if (!swarm || swarm.status === 'done' || swarm.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500)); // let the callback finish
  await mf.close();
  process.exit(0);
}
