/**
 * Mageflow's workloads. Task bodies are no-ops, so every figure is orchestration
 * overhead. Each runs in a child process of its own (see bench.ts).
 */
import { Mageflow } from '@mageflow/core';
import { hatchetClient, type Backend } from './backends.js';
import { idleCommandsPerSec, round, signal, WAIT_MS, type Figures } from './util.js';

async function client(backend: Backend) {
  const parts = await backend.connect();
  const mf = new Mageflow({ store: parts.store, engine: parts.engine, config: { sweepEveryMs: false } });
  return { mf, commands: parts.commands, close: async () => (await mf.stop(), await parts.close()) };
}

/** store calls so far, and Redis commands where the backend is Redis. */
type Reading = { calls: number; redisCommands?: number };

/** Commands Redis runs for other clients meanwhile, where they can be counted. */
async function background(commands: (() => Promise<Reading>) | undefined): Promise<Figures> {
  if (!commands || (await commands()).redisCommands === undefined) return {};
  return { redisIdleCommandsPerSec: await idleCommandsPerSec(async () => (await commands()).redisCommands!) };
}

/** Redis traffic between two readings: store calls (one round trip each) and commands Redis ran, per unit. */
function perUnit(before: Reading | undefined, after: Reading | undefined, units: number, unit: string): Figures {
  if (!before || !after) return {};
  return {
    [`roundTripsPer${unit}`]: round((after.calls - before.calls) / units, 2),
    // minus the INFO command of the first reading
    ...(after.redisCommands !== undefined && before.redisCommands !== undefined
      ? { [`redisCommandsPer${unit}`]: round((after.redisCommands - before.redisCommands - 1) / units, 2) }
      : {}),
  };
}

/**
 * Members added per addTasks call. The Redis store passes a call's member keys to one
 * script as arguments, and 100,000 of them overflow the stack (StoreUnavailableError:
 * Maximum call stack size exceeded), so every backend adds them 10,000 at a time.
 */
export const ADD_CHUNK = 10_000;

/**
 * swarm-N: N no-op members at maxConcurrency 100 and one success callback that
 * receives the N results. Clock: from the first call (signing the callback, creating
 * the swarm and every member) until the callback's body ran.
 */
export async function swarm(backend: Backend, size: number, perMember = false): Promise<Figures> {
  const { mf, close, commands } = await client(backend);
  try {
    const noop = mf.task('noop', async () => null);
    // with per-member callbacks: one more no-op task run per member, and the clock stops once all ran
    let memberCallbacks = 0;
    const allFired = signal<number>('every per-member callback');
    const each = mf.task('each', async () => {
      if (++memberCallbacks === size) allFired.resolve(performance.now());
      return null;
    });
    const ran = signal<{ at: number; received: number }>('the swarm callback');
    const collect = mf.task('collect', async (results: unknown) => {
      const received = Array.isArray(results) ? results.length : -1;
      ran.resolve({ at: performance.now(), received });
      return received;
    });
    await mf.start();
    const idle = await background(commands);
    const before = await commands?.();

    const t0 = performance.now();
    const callback = await mf.sign(collect);
    const group = await mf.swarm([], { config: { maxConcurrency: 100 }, success: callback, ...(perMember ? { memberSuccess: each } : {}) });
    for (let i = 0; i < size; i += ADD_CHUNK) await group.addTasks(Array.from({ length: Math.min(ADD_CHUNK, size - i) }, () => noop));
    await group.close();
    const created = performance.now();
    await group.runNoWait({});
    const { at, received } = await ran.promise;

    const completed = await callback.wait({ timeoutMs: WAIT_MS }); // the callback's run is recorded as done
    const lastPerMember = perMember ? await allFired.promise : at;
    const after = await commands?.();
    if (received !== size || completed !== size) throw new Error(`the callback received ${received} results (returned ${String(completed)}), expected ${size}`);
    const wallMs = Math.max(at, lastPerMember) - t0;
    return {
      members: size,
      ...(perMember ? { memberCallbacks } : {}),
      maxConcurrency: 100,
      addTasksCalls: Math.ceil(size / ADD_CHUNK),
      wallMs: round(wallMs),
      creationMs: round(created - t0),
      membersPerSec: round((size / wallMs) * 1000),
      msPerMember: round(wallMs / size, 4),
      ...perUnit(before, after, size, 'Member'),
      ...idle,
    };
  } finally {
    await close();
  }
}

/**
 * chain-N: N strictly sequential no-op steps, step k gets k-1 and returns k.
 * Clock: from creating the chain (N signatures) until the chain's run is done.
 */
export async function chain(backend: Backend, steps: number): Promise<Figures> {
  const { mf, close, commands } = await client(backend);
  try {
    const step = mf.task('step', async (n: number) => n + 1);
    await mf.start();
    const idle = await background(commands);
    const before = await commands?.();

    const t0 = performance.now();
    const sequence = await mf.chain(Array.from({ length: steps }, () => step));
    const created = performance.now();
    const result = await sequence.run(0, { timeoutMs: WAIT_MS });
    const wallMs = performance.now() - t0;

    const after = await commands?.();
    if (result !== steps) throw new Error(`the chain returned ${String(result)}, expected ${steps}`);
    return {
      steps,
      wallMs: round(wallMs),
      creationMs: round(created - t0),
      msPerStep: round(wallMs / steps, 3),
      ...perUnit(before, after, steps, 'Step'),
      ...idle,
    };
  } finally {
    await close();
  }
}

/** create-signatures: mf.sign, 100 at a time. */
export async function createSignatures(backend: Backend, count: number): Promise<Figures> {
  const { mf, close } = await client(backend);
  try {
    mf.task('noop', async () => null);
    const t0 = performance.now();
    for (let i = 0; i < count; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => mf.sign('noop', { kwargs: { i: i + j } })));
    }
    const ms = performance.now() - t0;
    return { signatures: count, wallMs: round(ms), perSec: round((count / ms) * 1000) };
  } finally {
    await close();
  }
}

/** The swarm's baseline on Hatchet: the same no-op task through the SDK alone, bulk runNoWait, wait for all. */
export async function rawHatchetBulk(_backend: Backend, runs: number): Promise<Figures> {
  const hatchet = await hatchetClient();
  const task = hatchet.task({ name: `raw-noop-${process.pid}`, fn: async () => ({}) });
  const worker = await hatchet.worker(`raw-${process.pid}`, { workflows: [task], slots: 100, handleKill: false });
  const running = worker.start();
  try {
    await worker.waitUntilReady(30_000);
    const t0 = performance.now();
    const refs = await task.runManyNoWait(Array.from({ length: runs }, () => ({ input: {} })));
    await Promise.all(refs.map((r) => r.output));
    const ms = performance.now() - t0;
    return { runs, wallMs: round(ms), runsPerSec: round((runs / ms) * 1000) };
  } finally {
    await worker.stop();
    await running.catch(() => undefined);
  }
}

/** The chain's baseline on Hatchet: the same number of runs through the SDK alone, one after another. */
export async function rawHatchetSequential(_backend: Backend, runs: number): Promise<Figures> {
  const hatchet = await hatchetClient();
  const task = hatchet.task({ name: `raw-count-${process.pid}`, fn: async (n: { n: number }) => ({ n: n.n + 1 }) });
  const worker = await hatchet.worker(`raw-seq-${process.pid}`, { workflows: [task], slots: 10, handleKill: false });
  const running = worker.start();
  try {
    await worker.waitUntilReady(30_000);
    let value = { n: 0 };
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) value = (await (await task.runNoWait(value)).output) as { n: number };
    const ms = performance.now() - t0;
    if (value.n !== runs) throw new Error(`counted ${value.n}, expected ${runs}`);
    return { runs, wallMs: round(ms), msPerRun: round(ms / runs, 3) };
  } finally {
    await worker.stop();
    await running.catch(() => undefined);
  }
}
