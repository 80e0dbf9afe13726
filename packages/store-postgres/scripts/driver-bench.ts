/**
 * Which driver: the store's hot path (a swarm member's claim and its end, which
 * counts it and claims the next) through `pg` and through `postgres` (porsager),
 * same SQL, same schema, same pool size. Prints members/s for each, alternating.
 *
 *   npx tsx scripts/driver-bench.ts [members=3000] [rounds=2]
 *   DATABASE_URL=postgres://... to use another server (default: the `test` database on 127.0.0.1).
 *
 * Creates and drops the schema `mf_driver_bench`.
 */
import pg from 'pg';
import postgres from 'postgres';
import { MIGRATIONS } from '../src/migrations';

const URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.argv[2] ?? 3000);
const ROUNDS = Number(process.argv[3] ?? 2);
const CAP = 10;
const S = '"mf_driver_bench"';
type Query = (text: string, params: unknown[]) => Promise<unknown>;

const enc = (v: unknown) => JSON.stringify(v);
const body = (key: string, extra: Record<string, unknown> = {}) =>
  Object.fromEntries(Object.entries({ key, kind: 'task', taskName: 't', kwargs: {}, successCallbacks: [], errorCallbacks: [], status: 'pending', creationTime: 1, ...extra }).map(([k, v]) => [k, enc(v)]));

/** N members at CAP slots: each claimed member is ended with swarm_end, which claims the next in the same call. */
async function loop(label: string, q: Query): Promise<number> {
  const sw = `sw-${label}-${Date.now()}`;
  const members = Array.from({ length: N }, (_, i) => `${sw}-m${i}`);
  await q(`SELECT ${S}.create_records($1::text::jsonb, 3600, true) AS v`, [enc([[sw, body(sw, { kind: 'swarm', status: 'active' })]])]);
  await q(`SELECT ${S}.create_records($1::text::jsonb, 3600, false) AS v`, [enc(members.map((m) => [m, body(m)]))]);
  await q(`SELECT ${S}.swarm_add($1, $2::text::jsonb, NULL, NULL, 3600) AS v`, [sw, enc(members)]);
  const claim = [CAP, ['"active"'], 'w', null, null, 'r', enc('w'), '{}'];
  const started = performance.now();
  const first = (await q(`SELECT ${S}.swarm_claim($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb) AS v`, [sw, ...claim])) as [string, string][];
  const run = async ([member, runId]: [string, string]): Promise<void> => {
    const reply = (await q(
      `SELECT ${S}.swarm_end($1, $2, $3::text::jsonb, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::text::jsonb) AS v`,
      [member, ['"active"'], enc({ runId: enc(runId) }), enc({ status: enc('done'), result: enc({ value: 1 }) }), [], 60, null, 'untrack', sw, true, '1', ...claim],
    )) as [unknown, unknown[]];
    await Promise.all((reply[1][7] as [string, string][]).map(run));
  };
  await Promise.all(first.map(run));
  return N / ((performance.now() - started) / 1000);
}

async function withPg(): Promise<number> {
  const pool = new pg.Pool({ connectionString: URL, max: CAP });
  try {
    return await loop('pg', async (text, params) => (await pool.query(text, params)).rows[0].v);
  } finally {
    await pool.end();
  }
}

async function withPostgres(): Promise<number> {
  const sql = postgres(URL, { max: CAP, onnotice: () => undefined });
  try {
    return await loop('postgres', async (text, params) => (await sql.unsafe(text, params as never[], { prepare: true }))[0]!.v);
  } finally {
    await sql.end();
  }
}

const admin = new pg.Client({ connectionString: URL });
await admin.connect();
await admin.query(`DROP SCHEMA IF EXISTS ${S} CASCADE; CREATE SCHEMA ${S}`);
await admin.query(MIGRATIONS.map((m) => m.sql(S)).join('\n'));
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of [['pg', withPg], ['postgres', withPostgres]] as const) {
      console.log(`round ${round} ${name}: ${N} members at ${CAP} slots, ${Math.round(await run())} members/s`);
    }
  }
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`);
  await admin.end();
}
