/**
 * What Mageflow's workloads and BullMQ's share: figures, rounding, and Redis
 * helpers. Imports no Mageflow package, so a BullMQ child process loads none.
 */
export type Figures = Record<string, number | string | boolean>;

/** how long any single wait may take before a workload gives up. */
export const WAIT_MS = 1_800_000;
/** The longest swarm-1M may take (at 100 members/s, under three hours). */
export const MILLION_WAIT_MS = 4 * 3_600_000;

export const REDIS_URL = process.env.MAGEFLOW_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const DATABASE_URL = process.env.MAGEFLOW_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A promise settled from the outside, rejected after `ms`. */
export function signal<T = void>(what: string, ms = WAIT_MS) {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => ((resolve = ok), (reject = fail)));
  const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  timer.unref();
  const settled = promise.finally(() => clearTimeout(timer));
  settled.catch(() => undefined); // whoever awaits it sees the rejection; nobody else has to
  return { promise: settled, resolve, reject };
}

/** Commands Redis has executed since it started, all clients together (commands inside Lua scripts count too). */
export async function redisCommands(redis: { info(section: string): Promise<string> }): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Commands per second Redis runs while the workload waits, set up but idle, for 250 ms: other
 * clients' commands and the workload's own idle traffic (a worker's blocking poll). INFO counts
 * every client's commands, so what other clients send inflates the per-member counts too.
 */
export async function idleCommandsPerSec(read: () => Promise<number>): Promise<number> {
  const first = await read();
  await new Promise((resolve) => setTimeout(resolve, 250));
  return round(((await read()) - first - 1) * 4);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type KeyScanner = { scan(...args: any[]): Promise<[string, string[]]>; unlink(...keys: string[]): Promise<number> };

/** Deletes every key under `prefix:`. */
export async function dropPrefix(redis: KeyScanner, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** How many keys start with `prefix:`. */
export async function countPrefix(redis: KeyScanner, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/** Why PostgreSQL cannot be used, or undefined when it answers. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${DATABASE_URL} is unavailable: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why Redis cannot be used, or undefined when it answers. */
export async function redisUnavailable(): Promise<string | undefined> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, connectTimeout: 2000 });
  let cause: unknown;
  redis.on('error', (error) => (cause ??= error));
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `no Redis at ${REDIS_URL}: ${String(cause ?? error)}`;
  } finally {
    redis.disconnect();
  }
}

/** Deletes what a child process that died left under its key prefixes (Mageflow's and BullMQ's) and its PostgreSQL schema. */
export async function dropLeftovers(pid: number): Promise<void> {
  if (!(await postgresUnavailable())) await dropSchema(`mageflow_bench_${pid}`);
  if (await redisUnavailable()) return;
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of [`mageflow-bench-${pid}`, `bullmq-bench-${pid}`]) await dropPrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
}
