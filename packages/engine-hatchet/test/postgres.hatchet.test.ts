/**
 * The scenario suite on PostgreSQL + Hatchet: the PostgreSQL store under a real
 * engine, each test in a schema of its own, dropped afterwards.
 */
import { describeScenarios, uniqueId } from '@mageflow/testing';
import { HatchetEngine } from '../src';
import { pooledStore, postgresOrSkip } from '../../store-postgres/test/postgres';
import { hatchetOrSkip } from './hatchet';

const available = hatchetOrSkip() && postgresOrSkip();
const suite = available ? describe : describe.skip;

suite('on PostgreSQL and Hatchet', () => {
  describeScenarios(
    'postgres + hatchet',
    async () => {
      const h = pooledStore('hatchet');
      return { store: h.store, engine: () => new HatchetEngine({ workerName: uniqueId('pg') }), keysWithTtl: h.keysWithTtl, recordTtl: h.recordTtl, auditKey: h.auditKey, corrupt: h.corrupt, cleanup: h.cleanup };
    },
    { timeoutMs: 60_000 },
  );
});
