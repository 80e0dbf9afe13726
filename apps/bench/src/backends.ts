/**
 * The store + engine pairs the benchmarks run on.
 */
import { InProcessEngine, MemoryStore, type Engine, type Store } from '@mageflow/core';

export interface Backend {
  name: string;
  /** why it cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
  connect(): Promise<{
    store: Store;
    engine: Engine;
    /** store commands so far (total, and round trips), where the store can count them. */
    commands?: () => Promise<{ calls: number; roundTrips: number }>;
    close(): Promise<void>;
  }>;
}

export const BACKENDS: Backend[] = [
  {
    name: 'memory+in-process',
    unavailable: async () => undefined,
    connect: async () => ({ store: new MemoryStore(), engine: new InProcessEngine({ slots: 128 }), close: async () => {} }),
  },
];
