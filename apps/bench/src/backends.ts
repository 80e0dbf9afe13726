/**
 * The store + engine pairs the benchmarks run on.
 */
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';
import { RedisStore } from '@mageflow/store-redis';

export interface Backend {
  name: string;
  /** why it cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
  connect(): Promise<{
    store: Store;
    engine: Engine;
    /** store calls (each one round trip) and Redis commands so far, where they can be counted. */
    commands?: () => Promise<{ calls: number; redisCommands: number }>;
    close(): Promise<void>;
  }>;
}

const REDIS_URL = process.env.MAGEFLOW_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

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

async function redisCommands(store: RedisStore): Promise<number> {
  const info = await store.redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

export const BACKENDS: Backend[] = [
  {
    name: 'memory+in-process',
    unavailable: async () => undefined,
    connect: async () => ({ store: new MemoryStore(), engine: new InProcessEngine({ slots: 128 }), close: async () => {} }),
  },
  {
    name: 'redis+in-process',
    async unavailable() {
      const store = new RedisStore({ url: REDIS_URL, redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true } });
      try {
        await store.redis.connect();
        await store.redis.ping();
        return undefined;
      } catch (error) {
        return `no Redis at ${REDIS_URL}: ${String(error)}`;
      } finally {
        store.redis.disconnect();
      }
    },
    async connect() {
      const prefix = `mageflow-bench-${process.pid}`;
      const redis = new RedisStore({ url: REDIS_URL, prefix });
      const { store, calls } = countCalls(redis);
      return {
        store,
        engine: new InProcessEngine({ slots: 128 }),
        commands: async () => ({ calls: calls(), redisCommands: await redisCommands(redis) }),
        async close() {
          let cursor = '0';
          do {
            const [next, keys] = await redis.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await redis.redis.del(...keys);
          } while (cursor !== '0');
          await redis.close();
        },
      };
    },
  },
];
