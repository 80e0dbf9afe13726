/**
 * @mageflow/store-postgres: the Mageflow Store on PostgreSQL through node-postgres.
 */
export { PostgresStore, type PostgresStoreOptions } from './postgres-store';
export { MIGRATIONS, type Migration } from './migrations';
export { migrate, SCHEMA_VERSION } from './migrate';
/** How a record row's body reads as a record (for stores built over this one, such as a cache tier). */
export { decodeRecord } from './codec';
