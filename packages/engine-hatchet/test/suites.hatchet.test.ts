/**
 * The shared suites on a real Hatchet engine: Engine conformance, and the scenario
 * suite on Redis + Hatchet. Task names carry a unique prefix per test.
 */
import { describeEngineConformance, describeScenarios, uniqueId } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { storeUnder } from '../../store-redis/test/redis';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip();
const suite = available ? describe : describe.skip;

suite('on Hatchet', () => {
  describeEngineConformance('hatchet', () => ({ engine: new HatchetEngine({ workerName: uniqueId('conf') }) }), { timeoutMs: 30_000 });

  describeScenarios(
    'redis + hatchet',
    async () => {
      const h = storeUnder(uniqueId('mf-test-hatchet'));
      return { store: h.store, engine: () => new HatchetEngine({ workerName: uniqueId('sc') }), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
    },
    { timeoutMs: 60_000 },
  );
});
