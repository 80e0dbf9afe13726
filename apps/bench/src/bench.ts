/**
 * Benchmarks. Prints one JSON line per workload and backend; each workload runs in
 * a fresh child process, so its peak RSS is its own. Task bodies are no-ops, so the
 * figures are orchestration overhead.
 *
 *   swarm-N             N members at maxConcurrency 100 (added 10,000 per addTasks call) and a
 *                       success callback that gets the N results; from the first call until the
 *                       callback ran (N = 10,000 and 100,000; 10,000 on Hatchet)
 *   swarm-member-callbacks-N  swarm-N (the smallest N) whose members each fire a per-member success
 *                       callback (a no-op task); the clock stops once the swarm's callback and every
 *                       member's have run
 *   chain-N             N sequential steps, step k gets k-1 and returns k; from creating the chain
 *                       until its run is done (N = 100, 1,000, 10,000; not 10,000 on Hatchet)
 *   graph-N             N nodes: a root fanning out to N-2 branches, half taken by a condition on its
 *                       output and half skipped, joined by one node; from creating the graph until
 *                       its run is done (N = 1,000)
 *   create-signatures   mf.sign, 100 at a time
 *   list-N              the inspection API's pages (newest, deep by cursor, workflows, by status)
 *                       and counts with N = 100,000 signatures stored
 *   raw-hatchet-*       the same no-op runs through the Hatchet SDK alone, and Mageflow's overhead
 *                       over them (hatchet-overhead)
 *   scaling             per backend, ms per step of the longest chain over the shortest, and ms per
 *                       member of the largest swarm over the smallest
 *
 *   npm run bench                              every backend available here
 *   npm run bench -- --backend=redis+hatchet   some backends (comma-separated): memory+in-process,
 *                                              redis+in-process, postgres+in-process, tier+in-process,
 *                                              redis+hatchet
 *   npm run bench -- --quick                   a tenth of the sizes, no 100,000 swarm (a smoke run)
 *   npm run bench -- --peers                   then swarm-10000 and chain-1000 on BullMQ too, in
 *                                              rounds alternating with ours (--rounds=N, default 3);
 *                                              on redis+hatchet, swarm-1000 and chain-100 against the
 *                                              Hatchet SDK's own runs of the same no-op tasks
 *   npm run bench -- --only-peers              the --peers rounds alone
 *   npm run bench -- --million                 only swarm-1000000 (long): a million no-op members on each
 *                                              durable backend (postgres+in-process, tier+in-process when
 *                                              built), created in batches while the swarm runs, results read
 *                                              back in pages by the callback; wall time, members/s, peak RSS,
 *                                              the store's size after TTL cleanup. --million=N: N members
 *   npm run bench -- --async-commit            PostgreSQL with durableCommits: false (synchronous_commit off)
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dropLeftovers, MILLION_WAIT_MS, redisUnavailable, round, WAIT_MS, type Figures } from './util.js';

type Kind = 'swarm' | 'million' | 'swarm-member-callbacks' | 'chain' | 'graph' | 'create-signatures' | 'list' | 'raw-hatchet-bulk' | 'raw-hatchet-sequential';

/** What one child process runs: a Mageflow workload on a backend, or a BullMQ one. */
interface Job {
  side: 'mageflow' | 'bullmq';
  kind: Kind;
  size: number;
  backend?: string;
}

const nameOf = (job: Job) =>
  job.kind === 'million' ? `swarm-${job.size}` : ['swarm', 'swarm-member-callbacks', 'chain', 'graph', 'list'].includes(job.kind) ? `${job.kind}-${job.size}` : job.kind;

// --- child ------------------------------------------------------------------------------

async function child(job: Job) {
  const loadAvg = round(loadavg()[0]!, 2); // the machine's load as the workload starts: other work skews every figure
  let figures: Figures;
  if (job.side === 'bullmq') {
    const peers = await import('./peers.js');
    if (job.kind !== 'swarm' && job.kind !== 'chain') throw new Error(`no BullMQ workload ${job.kind}`);
    figures = await peers[job.kind](job.size);
  } else {
    const [{ BACKENDS }, workloads] = await Promise.all([import('./backends.js'), import('./workloads.js')]);
    const backend = BACKENDS.find((b) => b.name === job.backend)!;
    const run = {
      swarm: workloads.swarm,
      million: workloads.million,
      chain: workloads.chain,
      graph: workloads.graph,
      'swarm-member-callbacks': (b: Parameters<typeof workloads.swarm>[0], n: number) => workloads.swarm(b, n, true),
      'create-signatures': workloads.createSignatures,
      list: workloads.listPage,
      'raw-hatchet-bulk': workloads.rawHatchetBulk,
      'raw-hatchet-sequential': workloads.rawHatchetSequential,
    }[job.kind];
    figures = await run(backend, job.size);
  }
  const peakRssMb = round(process.resourceUsage().maxRSS / 1024);
  const commits: Figures = job.backend?.startsWith('postgres') || job.backend?.startsWith('tier') ? { durableCommits: process.env.MAGEFLOW_BENCH_ASYNC_COMMIT !== '1' } : {};
  const line = { workload: nameOf(job), backend: job.side === 'bullmq' ? 'bullmq' : job.backend!, ...figures, ...commits, peakRssMb, loadAvg };
  if (process.send) process.send(line);
  else print(line); // run by hand: node dist/bench.js --child '{"side":"mageflow","kind":"chain","size":100,"backend":"memory+in-process"}'
}

// --- parent -----------------------------------------------------------------------------

let failed = false;

function print(line: object) {
  console.log(JSON.stringify(line));
}

/** Runs one job in a fresh child process and prints its line. */
async function runChild(job: Job, extra: Figures = {}): Promise<Figures> {
  const line = await new Promise<Figures>((resolve) => {
    // swarm-1M samples its heap after a full collection (what it holds, not garbage not yet collected)
    const execArgv = job.kind === 'million' ? [...process.execArgv, '--expose-gc'] : process.execArgv;
    const proc = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(job)], { stdio: 'inherit', execArgv });
    let result: Figures | undefined;
    const timer = setTimeout(() => proc.kill('SIGKILL'), (job.kind === 'million' ? MILLION_WAIT_MS : WAIT_MS) + 120_000);
    proc.on('message', (m) => (result = m as Figures));
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      const error = sig ? `killed by ${sig}` : `exit ${code}`;
      if (result) return resolve(result);
      // a child that died skipped its own clean-up: drop what it left in Redis
      void dropLeftovers(proc.pid!).then(
        () => resolve({ workload: nameOf(job), backend: job.backend ?? 'bullmq', error }),
        (cleanup) => resolve({ workload: nameOf(job), backend: job.backend ?? 'bullmq', error, cleanup: String(cleanup) }),
      );
    });
  });
  const out = { ...line, ...extra };
  if (out.error) failed = true;
  print(out);
  return out;
}

interface Stats {
  median: number;
  min: number;
  max: number;
}

function stats(values: number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round(median, 3), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

async function parent() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyPeers = args.includes('--only-peers');
  const peers = onlyPeers || args.includes('--peers');
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
  const wanted = args.find((a) => a.startsWith('--backend='))?.split('=')[1]?.split(',');
  if (args.includes('--async-commit')) process.env.MAGEFLOW_BENCH_ASYNC_COMMIT = '1'; // the children inherit it
  const millionArg = args.find((a) => a === '--million' || a.startsWith('--million='));
  const { BACKENDS, MILLION_BACKENDS } = await import('./backends.js');
  if (millionArg) {
    const size = millionArg.includes('=') ? Number(millionArg.split('=')[1]) : 1_000_000;
    if (!Number.isInteger(size) || size < 1) throw new Error('--million=N needs a positive integer');
    for (const name of MILLION_BACKENDS) {
      if (wanted && !wanted.includes(name)) continue;
      const backend = BACKENDS.find((b) => b.name === name && b.million);
      const unavailable = backend ? await backend.unavailable() : 'not in this build';
      if (unavailable) print({ workload: `swarm-${size}`, backend: name, skipped: unavailable });
      else await runChild({ side: 'mageflow', kind: 'million', size, backend: name });
    }
    process.exit(failed ? 1 : 0);
  }
  for (const name of wanted ?? []) {
    if (!BACKENDS.some((b) => b.name === name)) {
      print({ backend: name, skipped: `unknown backend; known: ${BACKENDS.map((b) => b.name).join(', ')}` });
    }
  }
  const tenth = (n: number) => (quick ? Math.ceil(n / 10) : n);

  const ready: string[] = [];
  for (const backend of BACKENDS) {
    if (wanted && !wanted.includes(backend.name)) continue;
    const unavailable = await backend.unavailable();
    if (unavailable) {
      print({ backend: backend.name, skipped: unavailable });
      continue;
    }
    ready.push(backend.name);
    if (onlyPeers) continue;
    const swarms = (quick ? backend.sizes.swarm.filter((n) => n < 100_000) : backend.sizes.swarm).map(tenth);
    const chains = backend.sizes.chain.map(tenth);
    const ours = (kind: Kind, size: number): Job => ({ side: 'mageflow', kind, size, backend: backend.name });
    const jobs = [
      ...swarms.map((n) => ours('swarm', n)),
      ours('swarm-member-callbacks', swarms[0]!),
      ...chains.map((n) => ours('chain', n)),
      ours('graph', tenth(1000)),
      ours('create-signatures', tenth(backend.sizes.create)),
      ...(backend.name === 'redis+hatchet' ? [] : [ours('list', tenth(100_000))]),
    ];
    if (backend.name === 'redis+hatchet') jobs.push(ours('raw-hatchet-bulk', swarms[0]!), ours('raw-hatchet-sequential', chains[chains.length - 1]!));

    const lines = new Map<string, Figures>();
    for (const job of jobs) lines.set(`${job.kind}-${job.size}`, await runChild(job));
    const got = (kind: Kind, size: number | undefined, field: string) => {
      const value = size === undefined ? undefined : lines.get(`${kind}-${size}`)?.[field];
      return typeof value === 'number' ? value : undefined;
    };

    if (backend.name === 'redis+hatchet') {
      const [swarm, bulk] = [got('swarm', swarms[0], 'wallMs'), got('raw-hatchet-bulk', swarms[0], 'wallMs')];
      const longest = chains[chains.length - 1];
      const [chain, sequential] = [got('chain', longest, 'wallMs'), got('raw-hatchet-sequential', longest, 'wallMs')];
      if (swarm && bulk && chain && sequential) {
        print({ workload: 'hatchet-overhead', backend: backend.name, swarmVsRawBulk: round(swarm / bulk, 2), chainVsRawSequential: round(chain / sequential, 2) });
      }
    }

    const scaling: Figures = {};
    const [shortest, longest] = [chains[0], chains[chains.length - 1]];
    const [chainSmall, chainLarge] = [got('chain', shortest, 'msPerStep'), got('chain', longest, 'msPerStep')];
    if (shortest !== longest && chainSmall && chainLarge) scaling[`chainMsPerStep${longest}over${shortest}`] = round(chainLarge / chainSmall, 2);
    const [smallest, largest] = [swarms[0], swarms[swarms.length - 1]];
    const [swarmSmall, swarmLarge] = [got('swarm', smallest, 'msPerMember'), got('swarm', largest, 'msPerMember')];
    if (smallest !== largest && swarmSmall && swarmLarge) scaling[`swarmMsPerMember${largest}over${smallest}`] = round(swarmLarge / swarmSmall, 2);
    if (Object.keys(scaling).length > 0) print({ workload: 'scaling', backend: backend.name, ...scaling });
  }

  if (peers) await comparePeers(ready, rounds, tenth);
  process.exit(failed ? 1 : 0);
}

/** The backend whose peer is the Hatchet SDK itself rather than BullMQ. */
const HATCHET = 'redis+hatchet';

/**
 * swarm-10000 and chain-1000 on each ready in-process backend and on BullMQ, in
 * alternating rounds (ours, BullMQ, ours, BullMQ, ...), each run in a fresh child
 * process; then per workload and backend the medians, min-max and the ratio
 * ours/BullMQ. On Hatchet the peer is the Hatchet SDK alone running the same no-op
 * runs (see compareHatchetSdk).
 */
async function comparePeers(backends: string[], rounds: number, tenth: (n: number) => number) {
  if (backends.length === 0) return print({ workload: 'peers', skipped: 'no Mageflow backend to compare' });
  const inProcess = backends.filter((b) => b !== HATCHET);
  if (inProcess.length > 0) await compareBullmq(inProcess, rounds, tenth);
  if (backends.includes(HATCHET)) await compareHatchetSdk(rounds, tenth);
}

async function compareBullmq(backends: string[], rounds: number, tenth: (n: number) => number) {
  const redis = await redisUnavailable();
  if (redis) return print({ workload: 'peers', backend: 'bullmq', skipped: redis });
  const workloads: { kind: 'swarm' | 'chain'; size: number; metric: string }[] = [
    { kind: 'swarm', size: tenth(10_000), metric: 'wallMs' },
    { kind: 'chain', size: tenth(1000), metric: 'msPerStep' },
  ];
  for (const { kind, size, metric } of workloads) {
    const samples = new Map<string, Figures[]>();
    const add = (side: string, line: Figures) => samples.set(side, [...(samples.get(side) ?? []), line]);
    for (let r = 1; r <= rounds; r++) {
      for (const backend of backends) add(backend, await runChild({ side: 'mageflow', kind, size, backend }, { peers: true, round: r }));
      add('bullmq', await runChild({ side: 'bullmq', kind, size }, { peers: true, round: r }));
    }
    const theirs = summary(samples.get('bullmq'), metric);
    for (const backend of backends) {
      const ours = summary(samples.get(backend), metric);
      const [a, b] = [(ours[metric] as Stats | undefined)?.median, (theirs[metric] as Stats | undefined)?.median];
      print({
        workload: `peers-${kind}-${size}`,
        backend,
        versus: 'bullmq',
        rounds,
        ours,
        bullmq: theirs,
        [`${metric}OursOverBullmq`]: a && b ? round(a / b, 2) : null,
      });
    }
  }
}

/**
 * Mageflow on Hatchet against the Hatchet SDK alone on the same engine, in alternating
 * rounds: swarm-1000 (maxConcurrency 100) against one bulk runManyNoWait of 1,000 no-op
 * runs awaited to the last output, and chain-100 against 100 runs each started when the
 * previous one's output is back. Mageflow's worker and the SDK's bulk worker have 100 slots. The ratio is of the
 * medians of wall time, and the median of each round's own ratio (the two runs of a
 * round are back to back, so the machine's load is closest between them).
 */
async function compareHatchetSdk(rounds: number, tenth: (n: number) => number) {
  const workloads: { kind: 'swarm' | 'chain'; peer: Kind; size: number }[] = [
    { kind: 'swarm', peer: 'raw-hatchet-bulk', size: tenth(1000) },
    { kind: 'chain', peer: 'raw-hatchet-sequential', size: tenth(100) },
  ];
  for (const { kind, peer, size } of workloads) {
    const ours: Figures[] = [];
    const theirs: Figures[] = [];
    for (let r = 1; r <= rounds; r++) {
      ours.push(await runChild({ side: 'mageflow', kind, size, backend: HATCHET }, { peers: true, round: r }));
      theirs.push(await runChild({ side: 'mageflow', kind: peer, size, backend: HATCHET }, { peers: true, round: r }));
    }
    const a = summary(ours, 'wallMs');
    const b = summary(theirs, 'wallMs');
    const [oursMedian, theirsMedian] = [(a.wallMs as Stats | undefined)?.median, (b.wallMs as Stats | undefined)?.median];
    const perRound = ours
      .map((line, i) => (typeof line.wallMs === 'number' && typeof theirs[i]!.wallMs === 'number' ? line.wallMs / (theirs[i]!.wallMs as number) : undefined))
      .filter((v): v is number => v !== undefined);
    print({
      workload: `peers-${kind}-${size}`,
      backend: HATCHET,
      versus: `hatchet-sdk ${peer}-${size}`,
      rounds,
      ours: a,
      hatchetSdk: b,
      wallMsOursOverHatchetSdk: oursMedian && theirsMedian ? round(oursMedian / theirsMedian, 2) : null,
      perRoundRatio: stats(perRound.map((v) => round(v, 3))) ?? null,
    });
  }
}

/** Medians and min-max of `metric` and peak RSS over the runs that did not fail. */
function summary(lines: Figures[] | undefined, metric: string): Record<string, number | Stats | undefined> {
  const ok = (lines ?? []).filter((l) => !l.error);
  const of = (field: string) => stats(ok.map((l) => l[field]).filter((v): v is number => typeof v === 'number'));
  return { runs: ok.length, [metric]: of(metric), peakRssMb: of('peakRssMb'), loadAvg: of('loadAvg') };
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3]!) as Job).then(
    () => process.exit(0),
    (error) => (console.error(error), process.exit(1)),
  );
} else {
  parent().catch((error) => (console.error(error), process.exit(1)));
}
