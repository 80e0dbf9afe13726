/**
 * The schema's migrations: applied once on first use, by one process at a time
 * however many start together, recorded by version; a schema newer than the package
 * is refused.
 */
import { InvalidArgumentError } from '@mageflow/core';
import { record } from '@mageflow/testing';
import { MIGRATIONS, PostgresStore, SCHEMA_VERSION } from '../src';
import { DATABASE_URL, dropSchema, postgresOrSkip, uniqueSchema } from './postgres';

const suite = postgresOrSkip() ? describe : describe.skip;

suite('migrations', () => {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  const storeOn = (schema: string) => {
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema, cleanupEveryMs: false, poolOptions: { max: 2 } });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });

  it('creates the schema on first use; stores starting together apply each migration once', async () => {
    const schema = uniqueSchema('mig');
    schemas.push(schema);
    const many = Array.from({ length: 6 }, () => storeOn(schema));
    await Promise.all(many.map((store, i) => store.createRecords([record(`task:m${i}`)], { ttlSec: 60, track: true })));
    const { rows } = await many[0]!.pool.query(`SELECT version, name FROM "${schema}".migrations ORDER BY version`);
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect((await many[0]!.listOpen(undefined, 10)).keys).toHaveLength(6);
    // a later store on the same schema applies nothing
    const later = storeOn(schema);
    await later.migrate();
    expect((await later.pool.query(`SELECT count(*)::integer AS n FROM "${schema}".migrations`)).rows[0].n).toBe(MIGRATIONS.length);
  });

  it('refuses a schema a newer version of the package has migrated, and writes nothing', async () => {
    const schema = uniqueSchema('mig_new');
    schemas.push(schema);
    const first = storeOn(schema);
    await first.migrate();
    await first.pool.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, 'from the future')`, [SCHEMA_VERSION + 1]);
    const newer = storeOn(schema);
    const error = await newer.getRecord('task:x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(new RegExp(`version ${SCHEMA_VERSION + 1}, newer than`));
  });

  it('keeps schemas apart: the same key in two schemas is two signatures', async () => {
    const [a, b] = [uniqueSchema('mig_a'), uniqueSchema('mig_b')];
    schemas.push(a, b);
    await storeOn(a).createRecords([record('task:same', { name: 'in a' })], { ttlSec: 60, track: true });
    await storeOn(b).createRecords([record('task:same', { name: 'in b' })], { ttlSec: 60, track: true });
    expect((await stores[0]!.getRecord('task:same'))!.name).toBe('in a');
    expect((await stores[1]!.getRecord('task:same'))!.name).toBe('in b');
    expect(stores[0]!.namespace).toBe(a);
  });
});
