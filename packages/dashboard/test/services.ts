/**
 * The stores the dashboard tests run on: memory, and Redis (REDIS_URL or 127.0.0.1:6379;
 * in CI an unreachable Redis fails the run, elsewhere its tests skip loudly).
 */
import { spawnSync } from 'node:child_process';
import { MemoryStore, type Store } from '@mageflow/core';
import { RedisStore } from '@mageflow/store-redis';
import { uniqueId } from '@mageflow/testing';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function redisReachable(): boolean {
  const { hostname, port } = new URL(REDIS_URL);
  const probe = `const s=require('net').connect(${Number(port || 6379)},${JSON.stringify(hostname)});
    s.setTimeout(1500,()=>process.exit(1));s.on('connect',()=>s.write('PING\\r\\n'));
    s.on('data',d=>process.exit(String(d).startsWith('+PONG')?0:1));s.on('error',()=>process.exit(1));`;
  const ok = spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
  if (!ok && process.env.CI) throw new Error(`Redis is required in CI but ${REDIS_URL} is unreachable`);
  if (!ok) console.warn(`\n*** SKIPPING the dashboard's Redis tests: ${REDIS_URL} is unreachable ***\n`);
  return ok;
}

export interface StoreCase {
  name: string;
  make(): { store: Store; cleanup(): Promise<void> };
}

export function storeCases(): StoreCase[] {
  const cases: StoreCase[] = [{ name: 'memory', make: () => ({ store: new MemoryStore(), cleanup: async () => undefined }) }];
  if (redisReachable()) {
    cases.push({
      name: 'redis',
      make: () => {
        const prefix = uniqueId('mf-test-dash');
        const store = new RedisStore({ url: REDIS_URL, prefix });
        return {
          store,
          cleanup: async () => {
            let cursor = '0';
            do {
              const [next, keys] = await store.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
              cursor = next;
              if (keys.length) await store.redis.del(...keys);
            } while (cursor !== '0');
            await store.close();
          },
        };
      },
    });
  }
  return cases;
}
