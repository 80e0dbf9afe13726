/**
 * @mageflow/store-redis: the Mageflow Store on plain Redis 6.2+ through ioredis.
 */
export { RedisStore, type RedisStoreOptions } from './redis-store';
export { KeySpace } from './keys';
