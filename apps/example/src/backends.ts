/**
 * Which store and engine the example runs on: the embedded defaults, unless the
 * environment names a Redis (MAGEFLOW_REDIS_URL) or a Hatchet engine (HATCHET_CLIENT_TOKEN).
 */
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';

export interface Backends {
  store: Store;
  storeName: string;
  engine: Engine;
  close(): Promise<void>;
}

export async function connect(): Promise<Backends> {
  return { store: new MemoryStore(), storeName: 'memory', engine: new InProcessEngine(), close: async () => {} };
}
