/**
 * Which store and engine the example runs on: the embedded defaults, unless the
 * environment names a Redis (MAGEFLOW_REDIS_URL) and a Hatchet engine
 * (HATCHET_CLIENT_TOKEN, with HATCHET_CLIENT_HOST_PORT and friends).
 */
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';
import { HatchetEngine } from '@mageflow/engine-hatchet';
import { RedisStore } from '@mageflow/store-redis';

export interface Backends {
  store: Store;
  storeName: string;
  engine: Engine;
  close(): Promise<void>;
}

export async function connect(): Promise<Backends> {
  const redisUrl = process.env.MAGEFLOW_REDIS_URL;
  const store = redisUrl ? new RedisStore({ url: redisUrl, prefix: process.env.MAGEFLOW_PREFIX ?? 'mageflow-example' }) : new MemoryStore();
  // Hatchet workers in several processes need a shared store: Hatchet only with Redis.
  const engine = redisUrl && process.env.HATCHET_CLIENT_TOKEN ? new HatchetEngine({ taskPrefix: 'mageflow-example-', workerName: 'mageflow-example' }) : new InProcessEngine();
  return { store, storeName: redisUrl ? `redis (${redisUrl})` : 'memory', engine, close: () => store.close() };
}
