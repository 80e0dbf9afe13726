/**
 * The shared suites on the tier over real PostgreSQL and Redis: Store conformance
 * (observability included), the scenario suite with the in-process engine, and the
 * fault-injection suite on a chain and a swarm (the PostgreSQL store, which takes
 * every step here, passes it on every workflow; the tier adds the cache's guard
 * around record writes, which a chain's and a swarm's runs exercise).
 */
import { InProcessEngine } from '@mageflow/core';
import { describeFaultTolerance, describeScenarios, describeStoreConformance } from '@mageflow/testing';
import { pooledTier, servicesOrSkip } from './tier';

const available = servicesOrSkip();
const suite = available ? describe : describe.skip;

suite('on the tier (Redis over PostgreSQL)', () => {
  describeStoreConformance('tier', () => {
    const h = pooledTier('tconf');
    return { store: h.store, cleanup: h.cleanup, corrupt: h.corrupt, ttl: h.recordTtl };
  });

  describeScenarios('tier + in-process', async () => {
    const h = pooledTier('tsc');
    return { store: h.store, engine: () => new InProcessEngine(), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
  });

  const stores: ReturnType<typeof pooledTier>[] = [];
  describeFaultTolerance(
    'tier + in-process',
    async () => ({
      store: async () => {
        const h = pooledTier('tft');
        stores.push(h);
        return h.store;
      },
      engine: () => new InProcessEngine(),
      cleanup: async () => {
        for (const h of stores.splice(0)) await h.cleanup();
      },
    }),
    { workflows: ['chain', 'swarm'], swarmSize: 200 },
  );
});
