/**
 * The shared suites on real Redis: Store conformance, the scenario suite with the
 * in-process engine, and the fault-injection suite. Every store uses a key prefix
 * of its own and deletes it afterwards.
 */
import { InProcessEngine } from '@mageflow/core';
import { describeFaultTolerance, describeInspector, describeScenarios, describeStoreConformance, uniqueId } from '@mageflow/testing';
import { redisOrSkip, storeUnder } from './redis';

const available = redisOrSkip();
const suite = available ? describe : describe.skip;

suite('on Redis', () => {
  describeStoreConformance('redis', () => {
    const h = storeUnder(uniqueId('mf-test-conf'));
    return {
      store: h.store,
      cleanup: h.cleanup,
      corrupt: h.corrupt,
      ttl: h.recordTtl,
    };
  });

  describeScenarios('redis + in-process', async () => {
    const h = storeUnder(uniqueId('mf-test-sc'));
    return { store: h.store, engine: () => new InProcessEngine(), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
  });

  describeInspector('redis + in-process', async () => {
    const h = storeUnder(uniqueId('mf-test-insp'));
    return { store: h.store, engine: () => new InProcessEngine(), cleanup: h.cleanup };
  });

  const stores: ReturnType<typeof storeUnder>[] = [];
  describeFaultTolerance('redis + in-process', async () => ({
    store: async () => {
      const h = storeUnder(uniqueId('mf-test-ft'));
      stores.push(h);
      return h.store;
    },
    engine: () => new InProcessEngine(),
    cleanup: async () => {
      for (const h of stores.splice(0)) await h.cleanup();
    },
  }));
});

it('a corrupt or foreign value under a record key is a typed error naming the key', async () => {
  if (!available) return;
  const h = storeUnder(uniqueId('mf-test-corrupt'));
  try {
    await h.store.redis.set(h.store.keys.record('task:foreign'), 'a plain string');
    await expect(h.store.getRecord('task:foreign')).rejects.toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining('task:foreign') });
  } finally {
    await h.cleanup();
  }
});
