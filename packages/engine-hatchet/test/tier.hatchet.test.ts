/**
 * The scenario suite on the tier (Redis over PostgreSQL) + Hatchet: the tier under a
 * real engine, where runs are delivered by Hatchet and read their records through the
 * cache. Each test in a schema and a Redis prefix of its own (schemas migrated once and reused).
 */
import { describeScenarios, uniqueId } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { pooledTier, servicesOrSkip } from '../../store-tier/test/tier';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip() && servicesOrSkip();
const suite = available ? describe : describe.skip;

suite('on the tier and Hatchet', () => {
  describeScenarios(
    'tier + hatchet',
    async () => {
      const h = pooledTier('thatchet');
      return { store: h.store, engine: () => new HatchetEngine({ workerName: uniqueId('tier') }), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
    },
    { timeoutMs: 60_000 },
  );
});
