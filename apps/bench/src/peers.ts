/**
 * The same workloads on BullMQ, written the way BullMQ's docs write them and with
 * its defaults, on the same Redis under a key prefix of their own (deleted after).
 * Producer and workers share the process, as Mageflow's in-process engine does.
 *
 * - swarm-N: one FlowProducer flow, a parent job whose processor reads every
 *   child's value with job.getChildrenValues(), and N no-op children on a worker
 *   of concurrency 100. Clock: from flow.add() until the parent's body ran.
 * - chain-N: a processor that runs step k (gets k-1, returns k) and queue.add()s
 *   step k+1. Clock: from adding step 1 until step N is completed.
 */
import { FlowProducer, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { dropPrefix, idleCommandsPerSec, REDIS_URL, redisCommands, round, signal, type Figures } from './util.js';

function connectionOptions(): ConnectionOptions {
  const url = new URL(REDIS_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

async function withBullmq<T>(fn: (ctx: { connection: ConnectionOptions; prefix: string; commands(): Promise<number> }) => Promise<T>): Promise<T> {
  const prefix = `bullmq-bench-${process.pid}`;
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    return await fn({ connection: connectionOptions(), prefix, commands: () => redisCommands(admin) });
  } finally {
    await dropPrefix(admin, prefix);
    await admin.quit();
  }
}

export async function swarm(size: number): Promise<Figures> {
  return withBullmq(async ({ connection, prefix, commands }) => {
    const ran = signal<{ at: number; received: number }>('the BullMQ flow parent to run');
    const completed = signal<unknown>('the BullMQ flow parent to complete');

    const children = new Worker('swarm-members', async () => null, { connection, prefix, concurrency: 100 });
    const parent = new Worker(
      'swarm-callback',
      async (job: Job) => {
        const values = await job.getChildrenValues();
        const received = Object.keys(values).length;
        ran.resolve({ at: performance.now(), received });
        return received;
      },
      { connection, prefix },
    );
    parent.on('completed', (_job, value) => completed.resolve(value));
    for (const w of [children, parent]) w.on('failed', (_job, error) => (ran.reject(error), completed.reject(error)));
    const flows = new FlowProducer({ connection, prefix });
    try {
      await Promise.all([children.waitUntilReady(), parent.waitUntilReady(), flows.waitUntilReady()]);
      const idle = await idleCommandsPerSec(commands);
      const before = await commands();

      const t0 = performance.now();
      await flows.add({
        name: 'collect',
        queueName: 'swarm-callback',
        children: Array.from({ length: size }, () => ({ name: 'noop', queueName: 'swarm-members', data: {} })),
      });
      const created = performance.now();
      const { at, received } = await ran.promise;

      const completedValue = await completed.promise;
      const after = await commands();
      if (received !== size || completedValue !== size) throw new Error(`the parent received ${received} children values, expected ${size}`);
      const wallMs = at - t0;
      return {
        members: size,
        concurrency: 100,
        wallMs: round(wallMs),
        creationMs: round(created - t0),
        membersPerSec: round((size / wallMs) * 1000),
        msPerMember: round(wallMs / size, 4),
        redisCommandsPerMember: round((after - before - 1) / size, 2),
        redisIdleCommandsPerSec: idle,
      };
    } finally {
      await Promise.all([children.close(), parent.close(), flows.close()]);
    }
  });
}

export async function chain(steps: number): Promise<Figures> {
  return withBullmq(async ({ connection, prefix, commands }) => {
    const queue = new Queue<{ previous: number }, number>('chain', { connection, prefix });
    const last = signal<number>('the last BullMQ chain step to complete');
    const worker = new Worker<{ previous: number }, number>(
      'chain',
      async (job) => {
        const k = job.data.previous + 1;
        if (k < steps) await queue.add('step', { previous: k });
        return k;
      },
      { connection, prefix },
    );
    worker.on('failed', (_job, error) => last.reject(error));
    let completedSteps = 0;
    worker.on('completed', (_job, value) => (completedSteps++, value === steps && last.resolve(performance.now())));
    try {
      await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
      const idle = await idleCommandsPerSec(commands);
      const before = await commands();

      const t0 = performance.now();
      await queue.add('step', { previous: 0 });
      const at = await last.promise;
      const wallMs = at - t0;

      const after = await commands();
      if (completedSteps !== steps) throw new Error(`${completedSteps} steps completed, expected ${steps}`);
      return {
        steps,
        wallMs: round(wallMs),
        msPerStep: round(wallMs / steps, 3),
        redisCommandsPerStep: round((after - before - 1) / steps, 2),
        redisIdleCommandsPerSec: idle,
      };
    } finally {
      await Promise.all([worker.close(), queue.close()]);
    }
  });
}
