/**
 * @mageflow/store-tier: the Mageflow Store as a tier, PostgreSQL (every record and
 * every step) under a Redis read cache of the records of live work.
 */
export { TierStore, type TierStoreOptions, type TierStats } from './tier-store';
export { RecordCache } from './record-cache';
