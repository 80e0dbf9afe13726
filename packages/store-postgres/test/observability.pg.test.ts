/**
 * What the PostgreSQL store does for observability beyond the shared conformance
 * suite: feed payloads past NOTIFY's 8000 bytes, publishing only while someone
 * listens, the cleanup of logs and graph progress, and a schema at version 1 upgraded
 * with its records listed.
 */
import type { LogEntry, StoreEvent } from '@mageflow/core';
import { delay, record, waitUntil } from '@mageflow/testing';
import pg from 'pg';
import { MIGRATIONS } from '../src';
import { DATABASE_URL, postgresOrSkip, storeIn, uniqueSchema } from './postgres';

const suite = postgresOrSkip() ? describe : describe.skip;
const TTL = 3600;
const log = (message: string, extra: Partial<LogEntry> = {}): LogEntry => ({ at: Date.now(), level: 'info', message, source: 'task', ...extra });

suite('PostgreSQL change feed', () => {
  let h: ReturnType<typeof storeIn>;
  beforeEach(async () => {
    h = storeIn(uniqueSchema('feed'), { cleanupEveryMs: false });
    await h.store.migrate();
  });
  afterEach(() => h.cleanup());
  const subscribers = async () => (await h.store.pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM "${h.schema}".subscriber`)).rows[0]!.n;

  it('delivers events longer than NOTIFY allows, in order, and from another store on the schema', async () => {
    const other = storeIn(h.schema, { cleanupEveryMs: false });
    const events: StoreEvent[] = [];
    const sub = await h.store.subscribe((e) => events.push(e));
    try {
      const big = 'x'.repeat(3000);
      await other.store.createRecords([record('task:big', { taskName: `t-${'n'.repeat(9000)}` })], { ttlSec: TTL, track: true });
      await other.store.appendLogs('task:big', [log(`${big}-1`, { fields: { blob: 'é'.repeat(6000) } }), log('small')]);
      await other.store.updateRecord('task:big', { set: { status: 'active', worker: 'w1' } });
      await waitUntil(() => events.length >= 4, 'four events', 5000);
      expect(events.map((e) => (e.type === 'status' ? `status:${e.entry.status}` : `log:${e.entry.message.slice(-7)}`))).toEqual([
        'status:pending', `log:${'x'.repeat(5)}-1`, 'log:small', 'status:active',
      ]);
      expect(events[0]).toMatchObject({ type: 'status', key: 'task:big', kind: 'task', taskName: `t-${'n'.repeat(9000)}` });
      expect(events[1]).toMatchObject({ type: 'log', entry: { fields: { blob: 'é'.repeat(6000) } } });
    } finally {
      await sub.close();
      await other.store.close();
    }
  });

  it('publishes only while a subscriber is registered; close() and store.close() unregister it', async () => {
    const sub = await h.store.subscribe(() => undefined);
    expect(await subscribers()).toBe(1);
    await sub.close();
    expect(await subscribers()).toBe(0);
    // nobody listens: the steps publish nothing (a LISTENing connection of our own would hear it)
    const probe = new pg.Client({ connectionString: DATABASE_URL });
    const heard: string[] = [];
    await probe.connect();
    try {
      probe.on('notification', (m) => heard.push(m.payload ?? ''));
      await probe.query(`LISTEN "${h.schema}"`);
      await h.store.createRecords([record('task:quiet')], { ttlSec: TTL, track: true });
      await h.store.updateRecord('task:quiet', { set: { status: 'active' } });
      await delay(300);
      expect(heard).toEqual([]);
      await h.store.subscribe(() => undefined); // left open: store.close() closes it
      await h.store.updateRecord('task:quiet', { set: { status: 'done' } });
      await waitUntil(() => heard.length === 1, 'one notification', 5000);
      await h.store.close();
    } finally {
      await probe.end();
    }
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      expect((await admin.query(`SELECT count(*)::integer AS n FROM "${h.schema}".subscriber`)).rows[0].n).toBe(0);
    } finally {
      await admin.end();
    }
  });
});

suite('PostgreSQL observability upkeep', () => {
  let h: ReturnType<typeof storeIn>;
  beforeEach(async () => {
    h = storeIn(uniqueSchema('obs'), { cleanupEveryMs: false });
    await h.store.migrate();
  });
  afterEach(() => h.cleanup());
  const count = async (table: string) => (await h.store.pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM "${h.schema}".${table}`)).rows[0]!.n;

  it('the cleanup deletes the logs of expired records and the progress of expired graphs; a key created again starts with a fresh timeline and log', async () => {
    const graph = record('task:g', { kind: 'graph', status: 'active' });
    await h.store.createRecords([graph, record('task:a')], { ttlSec: TTL, track: true });
    await h.store.appendLogs('task:a', [log('one'), log('two')]);
    await h.store.swarmAdd(graph.key, ['task:n1'], { ttlSec: TTL });
    const claim = { maxConcurrency: 5, whenStatus: ['active' as const], worker: 'w', ttlSec: TTL };
    await h.store.swarmClaim(graph.key, claim);
    await h.store.graphSettle(graph.key, 'task:n1', { outcome: { ok: true, result: 1 }, edges: [{ edge: 0, target: 'task:n2', incoming: 1, taken: true }] }, claim);
    expect(await count('graph_node')).toBe(1);
    await h.store.expireRecords([graph.key, 'task:a'], 1);
    await delay(1200);
    // expired, not yet cleaned: created again, it keeps nothing of the old one
    await h.store.createRecords([record('task:a', { status: 'active' })], { ttlSec: TTL, track: true });
    expect(await h.store.readLogs('task:a')).toEqual([]);
    expect((await h.store.timeline('task:a')).map((e) => e.status)).toEqual(['active']);
    await h.store.appendLogs('task:a', [log('three')]);
    await h.store.expireRecords(['task:a'], 1);
    await delay(1200);
    await h.store.cleanup(5);
    for (const table of ['record', 'log', 'member', 'swarm', 'graph_node', 'graph_edge', 'graph_target']) expect([table, await count(table)]).toEqual([table, 0]);
  });

  it('a graph read in member pages lists its entries only, and members added after a settlement keep dense positions', async () => {
    const graph = record('task:g2', { kind: 'graph', status: 'active' });
    await h.store.createRecords([graph], { ttlSec: TTL, track: true });
    await h.store.swarmAdd(graph.key, ['task:e1', 'task:e2'], { ttlSec: TTL });
    const claim = { maxConcurrency: 5, whenStatus: ['active' as const], worker: 'w', ttlSec: TTL };
    await h.store.swarmClaim(graph.key, claim);
    await h.store.graphSettle(graph.key, 'task:e1', { outcome: { ok: true, result: 1 }, edges: [{ edge: 0, target: 'task:r', incoming: 1, taken: true }] }, claim);
    await h.store.swarmAdd(graph.key, ['task:e3'], { ttlSec: TTL });
    expect(await h.store.swarmCounts(graph.key)).toMatchObject({ total: 4 });
    expect(await h.store.swarmMembers(graph.key)).toEqual(['task:e1', 'task:e2', 'task:e3']);
    expect(await h.store.swarmMembers(graph.key, { offset: 2, limit: 5 })).toEqual(['task:e3']);
    await h.store.swarmReset(graph.key);
    expect(await h.store.swarmCounts(graph.key)).toMatchObject({ total: 3, queued: 3 });
  });

  it('a schema at version 1 is upgraded: its records are listed by creation time and counted', async () => {
    const schema = uniqueSchema('obs_v1');
    const S = `"${schema}"`;
    const old = new pg.Client({ connectionString: DATABASE_URL });
    await old.connect();
    try {
      await old.query(`CREATE SCHEMA ${S}`);
      await old.query(`CREATE TABLE ${S}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      await old.query(MIGRATIONS[0]!.sql(S));
      await old.query(`INSERT INTO ${S}.migrations (version, name) VALUES (1, $1)`, [MIGRATIONS[0]!.name]);
      const rows = [record('task:old1', { creationTime: 1000 }), record('task:old2', { creationTime: 2000, parent: 'task:p', status: 'done' })];
      await old.query(`SELECT ${S}.create_records($1::jsonb, 3600, true)`, [
        JSON.stringify(rows.map((r) => [r.key, Object.fromEntries(Object.entries(r).map(([f, v]) => [f, JSON.stringify(v)]))])),
      ]);
    } finally {
      await old.end();
    }
    const upgraded = storeIn(schema, { cleanupEveryMs: false });
    try {
      expect((await upgraded.store.listRecords({})).records.map((r) => r.key)).toEqual(['task:old2', 'task:old1']);
      expect((await upgraded.store.listRecords({ roots: true })).records.map((r) => r.key)).toEqual(['task:old1']);
      expect((await upgraded.store.countRecords({})).counts).toMatchObject({ pending: 1, done: 1 });
      expect(await upgraded.store.timeline('task:old1')).toEqual([]);
      await upgraded.store.updateRecord('task:old1', { set: { status: 'active' } });
      expect((await upgraded.store.timeline('task:old1')).map((e) => [e.from, e.status])).toEqual([['pending', 'active']]);
    } finally {
      await upgraded.cleanup();
    }
  });
});
