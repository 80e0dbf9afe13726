/**
 * Mageflow's workloads. Task bodies are no-ops, so every figure is orchestration
 * overhead. Each runs in a child process of its own (see bench.ts).
 */
import { Inspector, Mageflow, type SignatureRecord, type SwarmResultsHandle } from '@mageflow/core';
import { hatchetClient, type Backend } from './backends.js';
import { idleCommandsPerSec, MILLION_WAIT_MS, round, signal, WAIT_MS, type Figures } from './util.js';

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

/**
 * graph-N: N nodes; a root fans out to N-2 branches, every other one taken (a `when` on the
 * root's output) and the others skipped, all joined by one node that gets the taken branches'
 * outputs by name. From creating the graph until its run is done.
 */
export async function graph(backend: Backend, nodes: number): Promise<Figures> {
  const { mf, close, commands } = await client(backend);
  try {
    const step = mf.task('step', async (n: number) => n + 1);
    const join = mf.task('join', async (outputs: Record<string, number>) => Object.keys(outputs).length);
    await mf.start();
    const idle = await background(commands);
    const before = await commands?.();

    const branches = nodes - 2;
    const shape: Record<string, typeof step> = { root: step, join: join as unknown as typeof step };
    const edges: { from: string; to: string; when?: { gte: number } | { lt: number } }[] = [];
    for (let i = 0; i < branches; i++) {
      shape[`b${i}`] = step;
      edges.push({ from: 'root', to: `b${i}`, when: i % 2 === 0 ? { gte: 0 } : { lt: 0 } }, { from: `b${i}`, to: 'join' });
    }
    const t0 = performance.now();
    const workflow = await mf.graph({ nodes: shape, edges, maxConcurrency: 100 });
    const created = performance.now();
    const result = (await workflow.run(0, { timeoutMs: WAIT_MS })) as { join: number };
    const wallMs = performance.now() - t0;

    const after = await commands?.();
    if (result.join !== Math.ceil(branches / 2)) throw new Error(`the graph returned ${JSON.stringify(result)}, expected ${Math.ceil(branches / 2)} joined branches`);
    return {
      nodes,
      wallMs: round(wallMs),
      creationMs: round(created - t0),
      msPerNode: round(wallMs / nodes, 3),
      ...perUnit(before, after, nodes, 'Node'),
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

/**
 * list-N: N signatures stored (a tenth of them workflows, the rest their members; one in
 * a hundred failed), then the inspection API's pages, each timed as the median of 20:
 * the newest 50; the page after 100 pages (by cursor); 50 workflows; 50 failed ones
 * (status is not indexed: the walk reads past the others); counts by status over the
 * newest 10,000. Records are created straight in the store, 1,000 at a time.
 */
export async function listPage(backend: Backend, count: number): Promise<Figures> {
  const parts = await backend.connect();
  const mf = new Mageflow({ store: parts.store, engine: parts.engine, config: { sweepEveryMs: false } });
  const inspector = new Inspector(mf);
  try {
    const t0 = Date.now() - count;
    const t1 = performance.now();
    for (let i = 0; i < count; i += 1000) {
      const records: SignatureRecord[] = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        const root = j % 10 === 0;
        records.push({
          key: `task:list-${process.pid}-${j}`, kind: root ? 'chain' : 'task', taskName: root ? 'order' : 'step', kwargs: {}, successCallbacks: [], errorCallbacks: [],
          status: j % 100 === 7 ? 'failed' : 'done', creationTime: t0 + j, ...(root ? {} : { parent: `task:list-${process.pid}-${j - (j % 10)}` }),
        });
      }
      await parts.store.createRecords(records, { ttlSec: 3600, track: false });
    }
    const createMs = performance.now() - t1;
    const time = async (work: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let r = 0; r < 20; r++) {
        const s = performance.now();
        await work();
        samples.push(performance.now() - s);
      }
      samples.sort((a, b) => a - b);
      return round(samples[10]!, 2);
    };
    let cursor: string | undefined;
    for (let p = 0; p < 100; p++) cursor = (await inspector.list({ cursor, limit: 50 })).cursor;
    return {
      signatures: count,
      createMs: round(createMs),
      firstPageMs: await time(() => inspector.list({ limit: 50 })),
      page101Ms: await time(() => inspector.list({ cursor, limit: 50 })),
      workflowsPageMs: await time(() => inspector.list({ roots: true, limit: 50 })),
      failedPageMs: await time(() => inspector.list({ statuses: ['failed'], limit: 50 })),
      countsNewest10000Ms: await time(() => inspector.counts({})),
    };
  } finally {
    await mf.stop();
    await parts.close();
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

/**
 * swarm-1M (opt-in, `--million`): N no-op members (1,000,000 by default) on a durable
 * store, with bounded memory. Members are added 10,000 per `addTasks` call while the
 * swarm already runs (creation streamed; the store claims them 100 at a time), and the
 * swarm has `results: 'handle'`: its callback reads the results back a page at a time
 * with `mf.swarmResults(handle)`, so no process holds every member or result. Clock:
 * from the first call until the callback read the last page. Then every record is left
 * to expire and the store's TTL cleanup runs to the end: `dbSizeMbAfterCleanup` is what
 * the store's tables and indexes still take (PostgreSQL does not give a table's space
 * back to the file system without VACUUM FULL; the rows left are `rowsAfterCleanup`).
 */
export async function million(backend: Backend, size: number): Promise<Figures> {
  const parts = await backend.connect();
  const storage = parts.storage;
  if (!storage) throw new Error(`${backend.name} gives no storage figures: it cannot run swarm-1M`);
  // finished members live 5 s (nothing reads them again), the swarm's results 10 minutes: the callback reads them
  // the sweep on (every 15 s), as in a real worker: over a long run, a step whose reply is lost (a timeout on a loaded
  // machine) must be repaired, not wait forever
  const mf = new Mageflow({ store: parts.store, engine: parts.engine, config: { ttl: { doneTtl: 5, swarm: { ttlWhenSignDone: 600 } } } });
  try {
    const noop = mf.task('noop', async () => null);
    const ran = signal<{ at: number; read: number; pages: number }>('the swarm callback', MILLION_WAIT_MS);
    const collect = mf.task('collect', async (handle: SwarmResultsHandle) => {
      let read = 0;
      let pages = 0;
      for await (const page of mf.swarmResults(handle, { pageSize: 5000 })) {
        read += page.length;
        pages += 1;
      }
      ran.resolve({ at: performance.now(), read, pages });
      return read;
    });
    await mf.start();
    // peak heap in use (garbage included), and every 10 s the heap a full collection leaves: what the process holds
    let peakHeapMb = 0;
    let peakRetainedHeapMb = 0;
    const fullGc = (globalThis as { gc?: () => void }).gc;
    let ticks = 0;
    const sampler = setInterval(() => {
      peakHeapMb = Math.max(peakHeapMb, process.memoryUsage().heapUsed / 2 ** 20);
      if (fullGc && ++ticks % 10 === 0) {
        fullGc();
        peakRetainedHeapMb = Math.max(peakRetainedHeapMb, process.memoryUsage().heapUsed / 2 ** 20);
      }
    }, 1000);
    sampler.unref();

    const t0 = performance.now();
    const callback = await mf.sign(collect);
    const group = await mf.swarm([], { config: { maxConcurrency: 100, results: 'handle' }, success: callback });
    await group.runNoWait({});
    for (let i = 0; i < size; i += ADD_CHUNK) await group.addTasks(Array.from({ length: Math.min(ADD_CHUNK, size - i) }, () => noop));
    await group.close();
    const created = performance.now();
    const { at, read, pages } = await ran.promise;
    clearInterval(sampler);
    if (fullGc) {
      fullGc();
      peakRetainedHeapMb = Math.max(peakRetainedHeapMb, process.memoryUsage().heapUsed / 2 ** 20);
    }
    if (read !== size) throw new Error(`the callback read ${read} results, expected ${size}`);
    const wallMs = at - t0;
    const dbSizeMbAtEnd = (await storage.sizeBytes()) / 2 ** 20;

    // let everything expire (the swarm's own record and state too), then clean up to the end
    await callback.wait({ timeoutMs: MILLION_WAIT_MS });
    await parts.store.expireRecords([group.key], 1);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const c0 = performance.now();
    const deleted = await storage.cleanup();
    const cleanupMs = performance.now() - c0;
    return {
      members: size,
      maxConcurrency: 100,
      results: 'handle',
      addTasksCalls: Math.ceil(size / ADD_CHUNK),
      wallMs: round(wallMs),
      creationMs: round(created - t0),
      membersPerSec: round((size / wallMs) * 1000),
      resultPages: pages,
      peakHeapMb: round(peakHeapMb),
      ...(fullGc ? { peakRetainedHeapMb: round(peakRetainedHeapMb) } : {}),
      dbSizeMbAtEnd: round(dbSizeMbAtEnd),
      rowsDeletedByCleanup: deleted,
      cleanupMs: round(cleanupMs),
      rowsAfterCleanup: await storage.rows(),
      dbSizeMbAfterCleanup: round((await storage.sizeBytes()) / 2 ** 20),
      ...(storage.cacheKeys ? { cacheKeysAfterCleanup: await storage.cacheKeys() } : {}),
    };
  } finally {
    await mf.stop();
    await parts.close();
  }
}
