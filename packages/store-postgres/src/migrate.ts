/**
 * Brings a schema to the newest version this package knows. Runs in one
 * transaction under an advisory lock on the schema's name, so processes starting
 * together on an empty database wait for the first one instead of racing it, and a
 * migration that fails leaves the schema as it was.
 */
import { InvalidArgumentError } from '@mageflow/core';
import type { Pool } from 'pg';
import { MIGRATIONS } from './migrations';

/** The newest schema version this package knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies the migrations `schema` lacks; returns the versions applied. */
export async function migrate(pool: Pool, schema: string): Promise<number[]> {
  const S = quoteIdent(schema);
  const client = await pool.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('mageflow migrations ' || $1))`, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${S}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0)::integer AS v FROM ${S}.migrations`);
    const current = rows[0]!.v;
    if (current > SCHEMA_VERSION) {
      throw new InvalidArgumentError(
        `the PostgreSQL schema "${schema}" is at version ${current}, newer than this @mageflow/store-postgres knows (${SCHEMA_VERSION}): upgrade the package`,
        { details: { schema, version: current, known: SCHEMA_VERSION } },
      );
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql(S));
      await client.query(`INSERT INTO ${S}.migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // a connection that failed mid-transaction is not handed to anyone else
    client.release(failed instanceof Error && !(failed instanceof InvalidArgumentError) ? failed : undefined);
  }
}

/** A schema name as SQL: letters, digits and '_' only, so quoting cannot be escaped. */
export function quoteIdent(name: string): string {
  return `"${name}"`;
}

/** Whether a schema name is one the store accepts: 1 to 63 letters, digits or '_', not starting with a digit. */
export function validSchemaName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name);
}
