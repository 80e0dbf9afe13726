/**
 * Benchmarks. Prints one JSON line per workload and backend; each workload runs in
 * a fresh child process, so its peak RSS is its own. On Hatchet, the same no-op
 * task also runs through the Hatchet SDK alone, and Mageflow's overhead is printed
 * as a ratio to it.
 *
 *   npm run bench                              every backend available here
 *   npm run bench -- --backend=redis+hatchet   one backend
 *   npm run bench -- --quick                   a tenth of the sizes (a smoke run)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Mageflow } from '@mageflow/core';
import { BACKENDS, hatchetClient, type Backend, type Sizes } from './backends.js';

type Figures = Record<string, number | string>;

interface Workload {
  name: string;
  /** backends it runs on (default: all). */
  only?: string[];
  run(backend: Backend, sizes: Sizes): Promise<Figures>;
}

const WORKLOADS: Workload[] = [
  {
    name: 'swarm-noop',
    async run(backend, sizes) {
      const size = sizes.swarm;
      const { mf, close, commands } = await client(backend);
      mf.task('noop', async () => null);
      await mf.start();
      const swarm = await mf.swarm([], { config: { maxConcurrency: 100 } });
      const before = await commands?.(); // a member's whole life: created, added, claimed, run, counted
      await swarm.addTasks(Array.from({ length: size }, () => 'noop'));
      await swarm.close();
      const t0 = performance.now();
      await swarm.run({}, { timeoutMs: 900_000 });
      const ms = performance.now() - t0;
      const after = await commands?.();
      await close();
      return {
        members: size,
        maxConcurrency: 100,
        wallMs: round(ms),
        membersPerSec: round((size / ms) * 1000),
        // round trips, and commands Redis executed (commands inside Lua scripts count too)
        ...(before && after
          ? { roundTripsPerMember: round((after.calls - before.calls) / size, 2), redisCommandsPerMember: round((after.redisCommands - before.redisCommands - 1) / size, 2) }
          : {}),
      };
    },
  },
  {
    name: 'chain-counter',
    async run(backend, sizes) {
      const steps = sizes.chain;
      const { mf, close } = await client(backend);
      mf.task('count', async (n: number) => n + 1);
      await mf.start();
      const chain = await mf.chain(Array.from({ length: steps }, () => 'count'));
      const t0 = performance.now();
      const result = await chain.run(0, { timeoutMs: 900_000 });
      const ms = performance.now() - t0;
      await close();
      if (result !== steps) throw new Error(`chain counted ${String(result)}, expected ${steps}`);
      return { steps, wallMs: round(ms), msPerStep: round(ms / steps, 3) };
    },
  },
  {
    name: 'create-signatures',
    async run(backend, sizes) {
      const count = sizes.create;
      const { mf, close } = await client(backend);
      mf.task('noop', async () => null);
      const t0 = performance.now();
      for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => mf.sign('noop', { kwargs: { i: i + j } })));
      const ms = performance.now() - t0;
      await close();
      return { signatures: count, wallMs: round(ms), perSec: round((count / ms) * 1000) };
    },
  },
  {
    name: 'raw-hatchet-bulk',
    only: ['redis+hatchet'],
    async run(_backend, sizes) {
      // The swarm's baseline: the same no-op task through the SDK, bulk runNoWait, wait for all.
      const hatchet = hatchetClient();
      const task = hatchet.task({ name: `raw-noop-${process.pid}`, fn: async () => ({}) });
      const worker = await hatchet.worker(`raw-${process.pid}`, { workflows: [task], slots: 100, handleKill: false });
      const running = worker.start();
      await worker.waitUntilReady(30_000);
      const t0 = performance.now();
      const refs = await task.runManyNoWait(Array.from({ length: sizes.swarm }, () => ({ input: {} })));
      await Promise.all(refs.map((r) => r.output));
      const ms = performance.now() - t0;
      await worker.stop();
      await running.catch(() => undefined);
      return { runs: sizes.swarm, wallMs: round(ms), runsPerSec: round((sizes.swarm / ms) * 1000) };
    },
  },
  {
    name: 'raw-hatchet-sequential',
    only: ['redis+hatchet'],
    async run(_backend, sizes) {
      // The chain's baseline: the same number of runs, one after another.
      const hatchet = hatchetClient();
      const task = hatchet.task({ name: `raw-count-${process.pid}`, fn: async (n: { n: number }) => ({ n: n.n + 1 }) });
      const worker = await hatchet.worker(`raw-seq-${process.pid}`, { workflows: [task], slots: 10, handleKill: false });
      const running = worker.start();
      await worker.waitUntilReady(30_000);
      let value = { n: 0 };
      const t0 = performance.now();
      for (let i = 0; i < sizes.chain; i++) value = (await (await task.runNoWait(value)).output) as { n: number };
      const ms = performance.now() - t0;
      await worker.stop();
      await running.catch(() => undefined);
      if (value.n !== sizes.chain) throw new Error(`counted ${value.n}`);
      return { runs: sizes.chain, wallMs: round(ms), msPerRun: round(ms / sizes.chain, 3) };
    },
  },
];

async function client(backend: Backend) {
  const parts = await backend.connect();
  const mf = new Mageflow({ store: parts.store, engine: parts.engine, config: { sweepEveryMs: false } });
  return { mf, commands: parts.commands, close: async () => (await mf.stop(), await parts.close()) };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function scaled(sizes: Sizes, quick: boolean): Sizes {
  return quick ? { swarm: Math.ceil(sizes.swarm / 10), chain: Math.ceil(sizes.chain / 10), create: Math.ceil(sizes.create / 10) } : sizes;
}

async function child(workloadName: string, backendName: string, quick: boolean) {
  const workload = WORKLOADS.find((w) => w.name === workloadName)!;
  const backend = BACKENDS.find((b) => b.name === backendName)!;
  const figures = await workload.run(backend, scaled(backend.sizes, quick));
  const peakRssMb = round(process.resourceUsage().maxRSS / 1024);
  process.send!({ workload: workload.name, backend: backend.name, ...figures, peakRssMb });
}

async function parent() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.find((a) => a.startsWith('--backend='))?.split('=')[1]?.split(',');
  let failed = false;
  for (const backend of BACKENDS) {
    if (wanted && !wanted.includes(backend.name)) continue;
    const unavailable = await backend.unavailable();
    if (unavailable) {
      console.log(JSON.stringify({ backend: backend.name, skipped: unavailable }));
      continue;
    }
    const lines = new Map<string, Figures>();
    for (const workload of WORKLOADS) {
      if (workload.only && !workload.only.includes(backend.name)) continue;
      const line = await new Promise<Figures>((resolve) => {
        const proc = fork(fileURLToPath(import.meta.url), ['--child', workload.name, backend.name, quick ? 'quick' : 'full'], { stdio: 'inherit' });
        let result: Figures | undefined;
        proc.on('message', (m) => (result = m as Figures));
        proc.on('exit', (code) => resolve(result ?? { workload: workload.name, backend: backend.name, error: `exit ${code}` }));
      });
      if (line.error) failed = true;
      lines.set(workload.name, line);
      console.log(JSON.stringify(line));
    }
    const [swarm, bulk, chain, sequential] = ['swarm-noop', 'raw-hatchet-bulk', 'chain-counter', 'raw-hatchet-sequential'].map((n) => lines.get(n));
    if (bulk && swarm?.wallMs && bulk.wallMs && chain?.wallMs && sequential?.wallMs) {
      console.log(JSON.stringify({
        workload: 'hatchet-overhead',
        backend: backend.name,
        swarmVsRawBulk: round(Number(swarm.wallMs) / Number(bulk.wallMs), 2),
        chainVsRawSequential: round(Number(chain.wallMs) / Number(sequential.wallMs), 2),
      }));
    }
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4]!, process.argv[5] === 'quick').then(
    () => process.exit(0),
    (error) => (console.error(error), process.exit(1)),
  );
} else {
  void parent();
}
