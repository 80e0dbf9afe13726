/** The two-process race suite (@mageflow/testing) on one PostgreSQL schema. */
import { join } from 'node:path';
import { describeProcessRaces } from '@mageflow/testing';
import { DATABASE_URL, postgresOrSkip, storeIn, uniqueSchema } from './postgres';

if (postgresOrSkip()) {
  describeProcessRaces({
    name: 'PostgreSQL',
    async setup() {
      const schema = uniqueSchema('race');
      const h = storeIn(schema);
      await h.store.migrate();
      await h.store.pool.query(`CREATE TABLE "${schema}".test_log (id bigserial PRIMARY KEY, list text NOT NULL, value text NOT NULL)`);
      const list = async (name: string) =>
        (await h.store.pool.query<{ value: string }>(`SELECT value FROM "${schema}".test_log WHERE list = $1 ORDER BY id`, [name])).rows.map((r) => r.value);
      return { store: h.store, list, workerEnv: { DATABASE_URL, SCHEMA: schema }, cleanup: h.cleanup };
    },
    workerScript: join(__dirname, 'fixtures/swarm-worker.ts'),
    cwd: join(__dirname, '..'),
    execArgv: ['--conditions=@mageflow/source', '--import', 'tsx'],
  });
} else {
  describe.skip('two worker processes on one swarm (PostgreSQL)', () => it('needs PostgreSQL', () => undefined));
}
