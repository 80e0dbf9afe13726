/**
 * Benchmarks. Prints one JSON line per workload and backend; each workload runs in
 * a fresh child process, so its peak RSS is its own.
 *
 *   npm run bench                      every backend available here
 *   npm run bench -- --backend=memory  one backend
 *   npm run bench -- --quick           smaller sizes (a smoke run)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Mageflow } from '@mageflow/core';
import { BACKENDS, type Backend } from './backends.js';

interface Workload {
  name: string;
  /** which backends it runs on (default: all). */
  only?: string[];
  run(backend: Backend, quick: boolean): Promise<Record<string, number | string>>;
}

const WORKLOADS: Workload[] = [
  {
    name: 'swarm-noop',
    async run(backend, quick) {
      const size = quick ? 1000 : 10_000;
      const { mf, close, commands } = await client(backend);
      mf.task('noop', async () => null);
      await mf.start();
      const swarm = await mf.swarm([], { config: { maxConcurrency: 100 } });
      const before = await commands?.(); // a member's whole life: created, added, claimed, run, counted
      await swarm.addTasks(Array.from({ length: size }, () => 'noop'));
      await swarm.close();
      const t0 = performance.now();
      await swarm.run({}, { timeoutMs: 600_000 });
      const ms = performance.now() - t0;
      const after = await commands?.();
      await close();
      return {
        members: size,
        maxConcurrency: 100,
        wallMs: round(ms),
        membersPerSec: round((size / ms) * 1000),
        // round trips and server-side commands (commands inside Lua scripts count too)
        ...(before && after
          ? { roundTripsPerMember: round((after.calls - before.calls) / size, 2), redisCommandsPerMember: round((after.redisCommands - before.redisCommands - 1) / size, 2) }
          : {}),
      };
    },
  },
  {
    name: 'chain-counter',
    async run(backend, quick) {
      const steps = quick ? 100 : 1000;
      const { mf, close } = await client(backend);
      mf.task('count', async (n: number) => n + 1);
      await mf.start();
      const chain = await mf.chain(Array.from({ length: steps }, () => 'count'));
      const t0 = performance.now();
      const result = await chain.run(0, { timeoutMs: 600_000 });
      const ms = performance.now() - t0;
      await close();
      if (result !== steps) throw new Error(`chain counted ${String(result)}, expected ${steps}`);
      return { steps, wallMs: round(ms), msPerStep: round(ms / steps, 3) };
    },
  },
  {
    name: 'create-signatures',
    async run(backend, quick) {
      const count = quick ? 1000 : 10_000;
      const { mf, close } = await client(backend);
      mf.task('noop', async () => null);
      const t0 = performance.now();
      for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => mf.sign('noop', { kwargs: { i: i + j } })));
      const ms = performance.now() - t0;
      await close();
      return { signatures: count, wallMs: round(ms), perSec: round((count / ms) * 1000) };
    },
  },
];

async function client(backend: Backend) {
  const parts = await backend.connect();
  const mf = new Mageflow({ store: parts.store, engine: parts.engine, config: { sweepEveryMs: false } });
  return { mf, commands: parts.commands, close: async () => (await mf.stop(), await parts.close()) };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

async function child(workloadName: string, backendName: string, quick: boolean) {
  const workload = WORKLOADS.find((w) => w.name === workloadName)!;
  const backend = BACKENDS.find((b) => b.name === backendName)!;
  const figures = await workload.run(backend, quick);
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
    for (const workload of WORKLOADS) {
      if (workload.only && !workload.only.includes(backend.name)) continue;
      const line = await new Promise<unknown>((resolve) => {
        const proc = fork(fileURLToPath(import.meta.url), ['--child', workload.name, backend.name, quick ? 'quick' : 'full'], { stdio: 'inherit' });
        let result: unknown;
        proc.on('message', (m) => (result = m));
        proc.on('exit', (code) => resolve(result ?? { workload: workload.name, backend: backend.name, error: `exit ${code}` }));
      });
      if ((line as { error?: string }).error) failed = true;
      console.log(JSON.stringify(line));
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
