/**
 * Which store and engine the example runs on: the embedded defaults, unless the
 * environment names a Redis (MAGEFLOW_REDIS_URL).
 */
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';
import { RedisStore } from '@mageflow/store-redis';

export interface Backends {
  store: Store;
  storeName: string;
  engine: Engine;
  close(): Promise<void>;
}

export async function connect(): Promise<Backends> {
  const engine = new InProcessEngine();
  const redisUrl = process.env.MAGEFLOW_REDIS_URL;
  if (redisUrl) {
    const store = new RedisStore({ url: redisUrl, prefix: process.env.MAGEFLOW_PREFIX ?? 'mageflow-example' });
    return { store, storeName: `redis (${redisUrl})`, engine, close: () => store.close() };
  }
  return { store: new MemoryStore(), storeName: 'memory', engine, close: async () => {} };
}
