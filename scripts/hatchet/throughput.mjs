#!/usr/bin/env node
// Hatchet SDK throughput on its own (no Mageflow): N no-op runs of one task
// dispatched with one bulk runManyNoWait, executed by one worker in this process,
// timed until every output is back. Prints runs/s; the median of ROUNDS rounds last.
//
//   eval "$(scripts/hatchet/up.sh)"; node scripts/hatchet/throughput.mjs
//
// env: RUNS (1000), SLOTS (100), ROUNDS (3), WAIT = output (await every run's
//   output: one subscription per run on the SDK's pooled listener) | worker (stop
//   the clock when the worker has finished every run, outputs not awaited).
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../../packages/engine-hatchet/package.json', import.meta.url));
const { HatchetClient } = require('@hatchet-dev/typescript-sdk');

const RUNS = Number(process.env.RUNS ?? 1000);
const SLOTS = Number(process.env.SLOTS ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WAIT = process.env.WAIT ?? 'output';

const hatchet = HatchetClient.init({ log_level: 'ERROR' });
let done = 0;
let onDone = () => {};
const task = hatchet.task({
  name: `throughput-noop-${Date.now().toString(36)}`,
  fn: async () => {
    done += 1;
    if (done === RUNS) onDone();
    return {};
  },
});
const worker = await hatchet.worker(`throughput-${process.pid}`, { workflows: [task], slots: SLOTS, handleKill: false });
void worker.start();
await worker.waitUntilReady(30_000);
await Promise.all((await task.runManyNoWait(Array.from({ length: 20 }, () => ({ input: {} })))).map((r) => r.output)); // warm up

const rates = [];
const cpu0 = process.cpuUsage();
for (let round = 1; round <= ROUNDS; round++) {
  done = 0;
  const allRan = new Promise((resolve) => (onDone = resolve));
  const t0 = performance.now();
  const refs = await task.runManyNoWait(Array.from({ length: RUNS }, () => ({ input: {} })));
  const dispatched = performance.now() - t0;
  if (WAIT === 'worker') await allRan;
  else await Promise.all(refs.map((r) => r.output));
  const total = performance.now() - t0;
  const ran = done;
  await allRan;
  const rate = RUNS / (total / 1000);
  rates.push(rate);
  console.log(`round ${round}: ${RUNS} runs in ${(total / 1000).toFixed(2)} s = ${rate.toFixed(1)} runs/s (bulk dispatch ${dispatched.toFixed(0)} ms; ${ran} had run when the clock stopped)`);
  await new Promise((r) => setTimeout(r, 1000));
}
const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)];
const cpu = process.cpuUsage(cpu0);
const nodeCpuMsPerRun = (cpu.user + cpu.system) / 1000 / (RUNS * ROUNDS);
console.log(`median ${median.toFixed(1)} runs/s (RUNS=${RUNS} SLOTS=${SLOTS} WAIT=${WAIT}) nodeCpuMsPerRun=${nodeCpuMsPerRun.toFixed(2)}`);
await Promise.race([worker.stop(), new Promise((r) => setTimeout(r, 5000))]);
process.exit(0);
