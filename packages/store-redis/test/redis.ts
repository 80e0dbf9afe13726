/**
 * The Redis the tests talk to: REDIS_URL, or 127.0.0.1:6379. In CI an unreachable
 * Redis fails the run; elsewhere the Redis tests skip with a loud reason.
 */
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { RedisStore } from '../src';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Asks Redis for PONG from a child process, so test files can decide synchronously whether to run. */
function reachable(): string | undefined {
  const { hostname, port } = new URL(REDIS_URL);
  const probe = `const s=require('net').connect(${Number(port || 6379)},${JSON.stringify(hostname)});
    s.setTimeout(1500,()=>{console.log('timeout');process.exit(1)});
    s.on('connect',()=>s.write('PING\\r\\n'));s.on('data',d=>{console.log(String(d).trim());process.exit(0)});
    s.on('error',e=>{console.log(e.message);process.exit(1)});`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 5000 });
  const reply = (result.stdout ?? '').trim();
  return reply === '+PONG' ? undefined : reply || 'no answer';
}

/** Whether the Redis tests run: a failure in CI when Redis is unreachable, a loud skip elsewhere. */
export function redisOrSkip(): boolean {
  const problem = reachable();
  if (!problem) return true;
  if (process.env.CI) throw new Error(`Redis is required in CI but ${REDIS_URL} is unreachable: ${problem}`);
  console.warn(`\n*** SKIPPING Redis tests: ${REDIS_URL} is unreachable (${problem}). Start Redis or set REDIS_URL. ***\n`);
  return false;
}

/** A store under a prefix of its own, with what tests need to inspect and clean it. */
export function storeUnder(prefix: string) {
  const store = new RedisStore({ url: REDIS_URL, prefix });
  return {
    store,
    /** every key under the prefix with its TTL in seconds (-1: none). */
    async keysWithTtl(): Promise<Map<string, number>> {
      const out = new Map<string, number>();
      for (const key of await scan(store.redis, `${prefix}:*`)) out.set(key, await store.redis.ttl(key));
      return out;
    },
    auditKey: (key: string) => store.keys.audit(key),
    /** a raw value under a record key: the fields JSON-encoded as the store keeps them, or garbage. */
    async corrupt(key: string, fields?: Record<string, unknown>): Promise<void> {
      const redisKey = store.keys.record(key);
      if (!fields) return void (await store.redis.hset(redisKey, 'kind', '"nonsense"', 'kwargs', '{not json'));
      await store.redis.del(redisKey);
      await store.redis.hset(redisKey, ...Object.entries(fields).flatMap(([f, v]) => [f, JSON.stringify(v)]));
      await store.redis.expire(redisKey, 3600);
    },
    async recordTtl(key: string): Promise<number | undefined> {
      const ttls = (await Promise.all(store.keys.owned(key).map((k) => store.redis.ttl(k)))).filter((t) => t !== -2);
      return ttls.length === 0 ? undefined : Math.max(...ttls);
    },
    async cleanup() {
      const keys = await scan(store.redis, `${prefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await store.redis.del(...keys.slice(i, i + 500));
      await store.close();
    },
  };
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
