/**
 * @mageflow/store-postgres: the Mageflow Store on PostgreSQL through node-postgres.
 */
export { PostgresStore, type PostgresStoreOptions } from './postgres-store';
export { MIGRATIONS, type Migration } from './migrations';
export { migrate, SCHEMA_VERSION } from './migrate';
