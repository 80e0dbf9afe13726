/**
 * The suites on the embedded defaults: the in-memory store and the in-process engine.
 */
import { InProcessEngine, MemoryStore } from '@mageflow/core';
import { describeEngineConformance, describeFaultTolerance, describeInspector, describeScenarios, describeStoreConformance } from '../src';

describeStoreConformance('memory', () => {
  const store = new MemoryStore();
  return { store, corrupt: async (key, fields) => store.corrupt(key, fields ?? { key, kind: 'nonsense' }), ttl: async (key) => store.ttlOf(key) };
});

describeEngineConformance('in-process', () => ({ engine: new InProcessEngine() }));

describeScenarios('memory + in-process', async () => {
  const store = new MemoryStore();
  return {
    store,
    engine: () => new InProcessEngine(),
    keysWithTtl: async () => store.keysWithTtl(),
    recordTtl: async (key) => store.ttlOf(key),
    corrupt: async (key, fields) => store.corrupt(key, fields ?? { key, kind: 'nonsense' }),
  };
});

describeFaultTolerance('memory + in-process', async () => ({ store: async () => new MemoryStore(), engine: () => new InProcessEngine() }));

describeInspector('memory + in-process', async () => ({ store: new MemoryStore(), engine: () => new InProcessEngine() }));
