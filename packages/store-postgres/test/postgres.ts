/**
 * The PostgreSQL the tests talk to: DATABASE_URL, or the `test` database on
 * 127.0.0.1:5432. In CI an unreachable PostgreSQL fails the run; elsewhere the
 * PostgreSQL tests skip with a loud reason. Each store lives in a schema of its
 * own, dropped afterwards, so test files share the database.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore, type PostgresStoreOptions } from '../src';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Asks PostgreSQL for `SELECT 1` from a child process, so test files can decide synchronously whether to run. */
function reachable(): string | undefined {
  const probe = `const pg=require('pg');const c=new pg.Client({connectionString:${JSON.stringify(DATABASE_URL)},connectionTimeoutMillis:3000});
    c.connect().then(()=>c.query('SELECT 1 AS one')).then(r=>{console.log(r.rows[0].one===1?'ok':'odd');return c.end()}).catch(e=>{console.log(e.message||String(e));process.exit(1)});`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 8000, cwd: __dirname });
  const reply = (result.stdout ?? '').trim();
  return reply === 'ok' ? undefined : reply || (result.stderr ?? '').trim().split('\n')[0] || 'no answer';
}

/** Whether the PostgreSQL tests run: a failure in CI when PostgreSQL is unreachable, a loud skip elsewhere. */
export function postgresOrSkip(): boolean {
  const problem = reachable();
  if (!problem) return true;
  if (process.env.CI) throw new Error(`PostgreSQL is required in CI but ${DATABASE_URL} is unreachable: ${problem}`);
  console.warn(`\n*** SKIPPING PostgreSQL tests: ${DATABASE_URL} is unreachable (${problem}). Start PostgreSQL or set DATABASE_URL. ***\n`);
  return false;
}

/** A schema name unique to this test run: `mf_<label>_<random>`. */
export function uniqueSchema(label: string): string {
  return `mf_${label}_${randomBytes(5).toString('hex')}`;
}

/** A store in a schema of its own, with what tests need to inspect and clean it. */
export function storeIn(schema: string, options: PostgresStoreOptions = {}) {
  // Few connections, closed soon after use: the fault suite makes a store per injected
  // failure and closes them only at its end, and the server's max_connections is shared.
  const store = new PostgresStore({ connectionString: DATABASE_URL, schema, poolOptions: { max: 4, idleTimeoutMillis: 500 }, ...options });
  return {
    store,
    schema,
    ...inspectSchema(store.pool, schema, () => store.migrate()),
    async cleanup() {
      await store.close();
      await dropSchema(schema);
    },
  };
}

/** What the shared suites inspect of a store's schema, read straight from its tables (`migrate` first). */
export function inspectSchema(pool: pg.Pool, schema: string, migrate: () => Promise<void>) {
  const S = `"${schema}"`;
  return {
    /** every live row the store keeps, named `rec:`, `swarm:`, `lock:`, `worker:` or `pg:audit:` + its key, with seconds left to live
     * (audit rows are named with `:audit:` inside, as the shared suites recognise audit keys that outlive what they describe). */
    async keysWithTtl(): Promise<Map<string, number>> {
      await migrate();
      const { rows } = await pool.query<{ name: string; ttl: number }>(
        `SELECT name, round(extract(epoch FROM expires_at - now()))::integer AS ttl FROM (
           SELECT 'rec:' || key AS name, expires_at FROM ${S}.record
           UNION ALL SELECT 'swarm:' || key, expires_at FROM ${S}.swarm
           UNION ALL SELECT 'lock:' || key, expires_at FROM ${S}.lock
           UNION ALL SELECT 'worker:' || worker, expires_at FROM ${S}.worker
           UNION ALL SELECT 'pg:audit:' || key, max(expires_at) FROM ${S}.audit GROUP BY key
         ) x WHERE expires_at > now()`,
      );
      return new Map(rows.map((r) => [r.name, r.ttl]));
    },
    auditKey: (key: string) => `pg:audit:${key}`,
    /** a raw body under a record key: the fields encoded as the store keeps them, or garbage. */
    async corrupt(key: string, fields?: Record<string, unknown>): Promise<void> {
      await migrate();
      const body = fields ? Object.fromEntries(Object.entries(fields).map(([f, v]) => [f, JSON.stringify(v)])) : { kind: '"nonsense"', kwargs: '{not json' };
      await pool.query(
        `INSERT INTO ${S}.record (key, body, expires_at) VALUES ($1, $2::jsonb, now() + interval '1 hour')
         ON CONFLICT (key) DO UPDATE SET body = excluded.body`,
        [key, JSON.stringify(body)],
      );
    },
    async recordTtl(key: string): Promise<number | undefined> {
      await migrate();
      const { rows } = await pool.query<{ ttl: number | null }>(
        `SELECT round(extract(epoch FROM max(expires_at) - now()))::integer AS ttl FROM (
           SELECT expires_at FROM ${S}.record WHERE key = $1 UNION ALL SELECT expires_at FROM ${S}.swarm WHERE key = $1
         ) x WHERE expires_at > now()`,
        [key],
      );
      return rows[0]?.ttl ?? undefined;
    },
  };
}

/**
 * Schemas this test file has finished with, migrated and emptied, for its next store:
 * migrating a schema costs a second or more (most of a test's time in the shared
 * suites); emptying one costs milliseconds. Dropped when the file ends.
 */
const idleSchemas: string[] = [];
const pooledSchemas: string[] = [];
// dropping a file's schemas takes about 0.4 s each, more on a loaded machine: past jest's 5 s hook default
afterAll(async () => {
  idleSchemas.length = 0;
  for (const schema of pooledSchemas.splice(0)) await dropSchema(schema);
}, 120_000);

/** A schema for a store: a migrated one this file has finished with, or a new one. */
export function pooledSchema(label: string): string {
  let schema = idleSchemas.pop();
  if (!schema) pooledSchemas.push((schema = uniqueSchema(label)));
  return schema;
}

/** Empties a schema from `pooledSchema` (its store closed) and hands it back for the next store. */
export async function releaseSchema(schema: string): Promise<void> {
  await emptySchema(schema);
  idleSchemas.push(schema);
}

/** Like `storeIn`, in a schema of this file's pool; `cleanup` empties it and hands it back. */
export function pooledStore(label: string, options: PostgresStoreOptions = {}) {
  const schema = pooledSchema(label);
  const h = storeIn(schema, options);
  return {
    ...h,
    async cleanup() {
      await h.store.close();
      await releaseSchema(schema);
    },
  };
}

/** Deletes every row of a schema's tables but its migrations', in one transaction. */
async function emptySchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename <> 'migrations'`, [schema]);
    if (rows.length > 0) await client.query(`BEGIN; ${rows.map((r) => `DELETE FROM "${schema}"."${r.name}";`).join(' ')} COMMIT;`);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
