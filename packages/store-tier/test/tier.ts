/**
 * The tier the tests talk to: the PostgreSQL of the store-postgres tests (a schema of
 * its own per store, dropped afterwards) and the Redis of the store-redis tests (a key
 * prefix of its own per store, deleted afterwards), so test files share both servers.
 */
import { DATABASE_URL, dropSchema, inspectSchema, pooledSchema, postgresOrSkip, releaseSchema, uniqueSchema } from '../../store-postgres/test/postgres';
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { TierStore, type TierStoreOptions } from '../src';

export { DATABASE_URL, uniqueSchema };

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Asks Redis for PONG from a child process, so test files can decide synchronously whether to run. */
function redisProblem(): string | undefined {
  const { hostname, port } = new URL(REDIS_URL);
  const probe = `const s=require('net').connect(${Number(port || 6379)},${JSON.stringify(hostname)});
    s.setTimeout(1500,()=>{console.log('timeout');process.exit(1)});
    s.on('connect',()=>s.write('PING\\r\\n'));s.on('data',d=>{console.log(String(d).trim());process.exit(0)});
    s.on('error',e=>{console.log(e.message);process.exit(1)});`;
  const reply = (spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 5000 }).stdout ?? '').trim();
  return reply === '+PONG' ? undefined : reply || 'no answer';
}

/** Whether the tier's tests run: both servers answer. In CI a server that does not fails the run; elsewhere the tests skip loudly. */
export function servicesOrSkip(): boolean {
  if (!postgresOrSkip()) return false;
  const problem = redisProblem();
  if (!problem) return true;
  if (process.env.CI) throw new Error(`Redis is required in CI but ${REDIS_URL} is unreachable: ${problem}`);
  console.warn(`\n*** SKIPPING the tier's tests: Redis at ${REDIS_URL} is unreachable (${problem}). ***\n`);
  return false;
}

export async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** A tier in a schema and under a prefix of its own, with what tests need to inspect and clean it. */
export function tierIn(schema: string, options: Omit<TierStoreOptions, 'postgres'> = {}, disposeSchema: (schema: string) => Promise<void> = dropSchema) {
  const prefix = `mftier-${schema}`;
  const store = new TierStore({
    ...options,
    // few connections, closed soon after use (the fault suite makes many stores)
    postgres: { connectionString: DATABASE_URL, schema, poolOptions: { max: 4, idleTimeoutMillis: 500 }, commandTimeoutMs: 30_000 },
    redis: { url: REDIS_URL, prefix, ...options.redis },
  });
  const redis = store.cache.redis;
  const tables = inspectSchema(store.postgres.pool, schema, () => store.migrate());
  return {
    store,
    schema,
    prefix,
    /** every key the tier keeps in Redis, with its TTL in ms (-1: none). */
    async redisKeys(): Promise<Map<string, number>> {
      const out = new Map<string, number>();
      for (const key of await scan(redis, `${prefix}:*`)) out.set(key, await redis.pttl(key));
      return out;
    },
    /** deletes every key of this tier in Redis: what FLUSHALL or a restart without persistence does to it. */
    async flushRedis(): Promise<number> {
      const keys = await scan(redis, `${prefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      return keys.length;
    },
    /** the PostgreSQL rows, as the store-postgres tests inspect them. */
    ...tables,
    /**
     * A raw body under a record key in PostgreSQL, as the store keeps it, or garbage. A
     * write that bypasses the tier drops the key's cache entry itself (the tier cannot see it).
     */
    async corrupt(key: string, fields?: Record<string, unknown>): Promise<void> {
      await tables.corrupt(key, fields);
      await redis.del(store.cache.entryKey(key));
    },
    async cleanup() {
      const keys = await scan(redis, `${prefix}:*`).catch(() => [] as string[]);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      await store.close();
      await disposeSchema(schema);
    },
  };
}

/** Like `tierIn`, in a migrated schema of this file's pool (see store-postgres's tests), emptied and handed back by `cleanup`. */
export function pooledTier(label: string) {
  return tierIn(pooledSchema(label), {}, releaseSchema);
}
