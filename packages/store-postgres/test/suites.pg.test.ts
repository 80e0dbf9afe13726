/**
 * The shared suites on real PostgreSQL: Store conformance, the scenario suite with
 * the in-process engine, and the fault-injection suite. Every store uses a schema of
 * its own (migrated once, emptied and reused by the next store of this file).
 */
import { InProcessEngine } from '@mageflow/core';
import { describeFaultTolerance, describeScenarios, describeStoreConformance } from '@mageflow/testing';
import { pooledStore, postgresOrSkip } from './postgres';

const available = postgresOrSkip();
const suite = available ? describe : describe.skip;

suite('on PostgreSQL', () => {
  describeStoreConformance('postgres', () => {
    const h = pooledStore('conf');
    return { store: h.store, cleanup: h.cleanup, corrupt: h.corrupt, ttl: h.recordTtl };
  });

  describeScenarios('postgres + in-process', async () => {
    const h = pooledStore('sc');
    return { store: h.store, engine: () => new InProcessEngine(), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
  });

  const stores: ReturnType<typeof pooledStore>[] = [];
  describeFaultTolerance('postgres + in-process', async () => ({
    store: async () => {
      const h = pooledStore('ft');
      stores.push(h);
      return h.store;
    },
    engine: () => new InProcessEngine(),
    cleanup: async () => {
      for (const h of stores.splice(0)) await h.cleanup();
    },
  }));
});
