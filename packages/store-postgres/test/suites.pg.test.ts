/**
 * The shared suites on real PostgreSQL: Store conformance, the scenario suite with
 * the in-process engine, and the fault-injection suite. Every store uses a schema of
 * its own and drops it afterwards.
 */
import { InProcessEngine } from '@mageflow/core';
import { describeFaultTolerance, describeScenarios, describeStoreConformance } from '@mageflow/testing';
import { postgresOrSkip, storeIn, uniqueSchema } from './postgres';

const available = postgresOrSkip();
const suite = available ? describe : describe.skip;

suite('on PostgreSQL', () => {
  describeStoreConformance('postgres', () => {
    const h = storeIn(uniqueSchema('conf'));
    return { store: h.store, cleanup: h.cleanup, corrupt: h.corrupt, ttl: h.recordTtl };
  });

  describeScenarios('postgres + in-process', async () => {
    const h = storeIn(uniqueSchema('sc'));
    return { store: h.store, engine: () => new InProcessEngine(), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
  });

  const stores: ReturnType<typeof storeIn>[] = [];
  describeFaultTolerance('postgres + in-process', async () => ({
    store: async () => {
      const h = storeIn(uniqueSchema('ft'));
      stores.push(h);
      return h.store;
    },
    engine: () => new InProcessEngine(),
    cleanup: async () => {
      for (const h of stores.splice(0)) await h.cleanup();
    },
  }));
});
