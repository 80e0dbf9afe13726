/**
 * The store + engine pairs the benchmarks run on, with the sizes each runs.
 * The Redis, PostgreSQL and Hatchet clients are imported only by the processes that use them,
 * so a workload's peak RSS carries no SDK it does not run on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HatchetClient } from '@hatchet-dev/typescript-sdk';
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';
import type { PostgresStore } from '@mageflow/store-postgres';
import type { RedisStore } from '@mageflow/store-redis';
import { countPrefix, DATABASE_URL, dropPrefix, dropSchema, postgresUnavailable, REDIS_URL, redisCommands, redisUnavailable } from './util.js';

export interface Sizes {
  /** swarm sizes, smallest first. */
  swarm: number[];
  /** chain lengths, smallest first. */
  chain: number[];
  create: number;
}

export interface Connected {
  store: Store;
  engine: Engine;
  /** store calls (each one round trip) and, on Redis, Redis commands so far, where they can be counted. */
  commands?: () => Promise<{ calls: number; redisCommands?: number }>;
  /** what the store keeps on disk, for the swarm-1M workload (the durable backends). */
  storage?: Storage;
  close(): Promise<void>;
}

/** The swarm-1M workload's view of a durable store: its size, and its TTL cleanup run to the end. */
export interface Storage {
  /** bytes the store's tables and indexes take. */
  sizeBytes(): Promise<number>;
  /** rows the store's tables hold (live ones: expired rows not yet deleted count). */
  rows(): Promise<number>;
  /** deletes every expired row now; the rows deleted. */
  cleanup(): Promise<number>;
  /** keys a cache in front of the database still holds (the tier's Redis). */
  cacheKeys?(): Promise<number>;
}

export interface Backend {
  name: string;
  sizes: Sizes;
  /** why it cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
  connect(): Promise<Connected>;
  /**
   * Runs the opt-in swarm-1M workload (`--million`): a durable store whose `connect()`
   * gives `storage`: PostgreSQL and the tier.
   */
  million?: boolean;
}

/** The backends `--million` runs on, when they exist in this build and are available. */
export const MILLION_BACKENDS = ['postgres+in-process', 'tier+in-process'];

/** Counts calls of every Store method: each is one round trip to Redis (a pipeline counts once). */
function countCalls(store: Store): { store: Store; calls: () => number } {
  let calls = 0;
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => ((calls += 1), (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return { store: counted, calls: () => calls };
}

async function redisStore(): Promise<{ redis: RedisStore; store: Store; calls: () => number; drop(): Promise<void> }> {
  const { RedisStore } = await import('@mageflow/store-redis');
  const prefix = `mageflow-bench-${process.pid}`;
  const redis = new RedisStore({ url: REDIS_URL, prefix });
  const { store, calls } = countCalls(redis);
  return {
    redis,
    store,
    calls,
    async drop() {
      await dropPrefix(redis.redis, prefix);
      await redis.close();
    },
  };
}

/** --async-commit (the parent passes it on in the environment): PostgreSQL with durableCommits: false. */
const durableCommits = () => process.env.MAGEFLOW_BENCH_ASYNC_COMMIT !== '1';

/** What a PostgreSQL store's schema takes on disk, and its TTL cleanup run to the end. */
function postgresStorage(postgres: PostgresStore): Storage {
  const schema = postgres.schema;
  const one = async (sql: string) => Number((await postgres.pool.query(sql, [schema])).rows[0].n);
  const tables = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`;
  return {
    sizeBytes: () => one(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n ${tables}`),
    rows: async () => {
      const names = (await postgres.pool.query<{ relname: string }>(`SELECT c.relname ${tables}`, [schema])).rows.map((r) => r.relname);
      let n = 0;
      for (const name of names) n += Number((await postgres.pool.query(`SELECT count(*) AS n FROM "${schema}"."${name}"`)).rows[0].n);
      return n;
    },
    cleanup: () => postgres.cleanup(1_000_000),
  };
}

/** A PostgreSQL store in a schema of this process's own, dropped at the end. */
async function postgresStore(): Promise<{ store: Store; calls: () => number; storage: Storage; drop(): Promise<void> }> {
  const { PostgresStore } = await import('@mageflow/store-postgres');
  const schema = `mageflow_bench_${process.pid}`;
  const postgres = new PostgresStore({ connectionString: DATABASE_URL, schema, durableCommits: durableCommits(), cleanupBatch: 20_000, poolOptions: { max: 20 } });
  const { store, calls } = countCalls(postgres);
  return {
    store,
    calls,
    storage: postgresStorage(postgres),
    async drop() {
      await postgres.close();
      await dropSchema(schema);
    },
  };
}

/** The tier (Redis over PostgreSQL) in a schema and under a Redis prefix of this process's own, both dropped at the end. */
async function tierStore(): Promise<{ store: Store; calls: () => number; storage: Storage; stats: () => Record<string, number>; drop(): Promise<void> }> {
  const { TierStore } = await import('@mageflow/store-tier');
  const schema = `mageflow_bench_tier_${process.pid}`;
  const prefix = `mageflow-bench-tier-${process.pid}`;
  const tier = new TierStore({
    postgres: { connectionString: DATABASE_URL, schema, durableCommits: durableCommits(), cleanupBatch: 20_000, poolOptions: { max: 20 } },
    redis: { url: REDIS_URL, prefix },
  });
  const { store, calls } = countCalls(tier);
  return {
    store,
    calls,
    // the tier keeps every record in PostgreSQL; Redis holds only live records, each on a TTL
    storage: { ...postgresStorage(tier.postgres), cacheKeys: () => countPrefix(tier.cache.redis, prefix) },
    stats: () => ({ ...tier.stats }),
    async drop() {
      await dropPrefix(tier.cache.redis, prefix);
      await tier.close();
      await dropSchema(schema);
    },
  };
}

/** HATCHET_CLIENT_* from the environment, or from the file scripts/hatchet/up.sh writes. */
export function loadHatchetEnv(): void {
  const file = join(process.env.MAGEFLOW_CACHE ?? join(homedir(), '.cache', 'mageflow'), 'hatchet', 'state', 'env');
  if (process.env.HATCHET_CLIENT_TOKEN || !existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m && !process.env[m[1]!]) process.env[m[1]!] = m[2]!;
  }
}

export async function hatchetClient(): Promise<HatchetClient> {
  loadHatchetEnv();
  const { HatchetClient } = await import('@hatchet-dev/typescript-sdk');
  return HatchetClient.init({ log_level: 'ERROR' } as never);
}

export const BACKENDS: Backend[] = [
  {
    name: 'memory+in-process',
    sizes: { swarm: [10_000, 100_000], chain: [100, 1000, 10_000], create: 10_000 },
    unavailable: async () => undefined,
    connect: async () => ({ store: new MemoryStore(), engine: new InProcessEngine({ slots: 128 }), close: async () => {} }),
  },
  {
    name: 'redis+in-process',
    sizes: { swarm: [10_000, 100_000], chain: [100, 1000, 10_000], create: 10_000 },
    unavailable: redisUnavailable,
    async connect() {
      const r = await redisStore();
      return {
        store: r.store,
        engine: new InProcessEngine({ slots: 128 }),
        commands: async () => ({ calls: r.calls(), redisCommands: await redisCommands(r.redis.redis) }),
        close: r.drop,
      };
    },
  },
  {
    name: 'postgres+in-process',
    sizes: { swarm: [10_000, 100_000], chain: [100, 1000, 10_000], create: 10_000 },
    unavailable: postgresUnavailable,
    million: true,
    async connect() {
      const p = await postgresStore();
      return {
        store: p.store,
        engine: new InProcessEngine({ slots: 128 }),
        commands: async () => ({ calls: p.calls() }),
        storage: p.storage,
        close: p.drop,
      };
    },
  },
  {
    name: 'tier+in-process',
    sizes: { swarm: [10_000, 100_000], chain: [100, 1000, 10_000], create: 10_000 },
    million: true,
    async unavailable() {
      return (await postgresUnavailable()) ?? (await redisUnavailable());
    },
    async connect() {
      const t = await tierStore();
      return {
        store: t.store,
        engine: new InProcessEngine({ slots: 128 }),
        commands: async () => ({ calls: t.calls() }),
        storage: t.storage,
        close: t.drop,
      };
    },
  },
  {
    name: 'redis+hatchet',
    sizes: { swarm: [10_000], chain: [100, 1000], create: 1000 },
    async unavailable() {
      loadHatchetEnv();
      if (!process.env.HATCHET_CLIENT_TOKEN) return 'no Hatchet engine (run scripts/hatchet/up.sh)';
      const api = process.env.HATCHET_CLIENT_API_URL ?? 'http://127.0.0.1:8080';
      const status = spawnSync(process.execPath, ['-e', `fetch('${api}/api/ready').then(r=>console.log(r.status),e=>console.log(e.message))`], { encoding: 'utf8' }).stdout.trim();
      return status === '200' ? redisUnavailable() : `Hatchet at ${api} answered ${status}`;
    },
    async connect() {
      const r = await redisStore();
      const { HatchetEngine } = await import('@mageflow/engine-hatchet');
      return {
        store: r.store,
        engine: new HatchetEngine({ client: await hatchetClient(), taskPrefix: `bench-${process.pid}-`, slots: 100 }),
        commands: async () => ({ calls: r.calls(), redisCommands: await redisCommands(r.redis.redis) }),
        close: r.drop,
      };
    },
  },
];
