/** The two-process race suite (@mageflow/testing) on the shared Redis. */
import { join } from 'node:path';
import { describeProcessRaces, uniqueId } from '@mageflow/testing';
import { REDIS_URL, redisOrSkip, storeUnder } from './redis';

if (redisOrSkip()) {
  describeProcessRaces({
    name: 'Redis',
    async setup() {
      const prefix = uniqueId('mf-race');
      const h = storeUnder(prefix);
      return { store: h.store, list: (name) => h.store.redis.lrange(`${prefix}:test:${name}`, 0, -1), workerEnv: { REDIS_URL, PREFIX: prefix }, cleanup: h.cleanup };
    },
    workerScript: join(__dirname, 'fixtures/swarm-worker.ts'),
    cwd: join(__dirname, '..'),
    execArgv: ['--conditions=@mageflow/source', '--import', 'tsx', '--import', join(__dirname, 'fixtures/register-lua.mjs')],
  });
} else {
  describe.skip('two worker processes on one swarm (Redis)', () => it('needs Redis', () => undefined));
}
