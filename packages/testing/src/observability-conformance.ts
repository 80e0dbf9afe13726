/**
 * The Store's observability steps, part of the Store conformance suite: timelines
 * recorded by the steps that change a status, logs, the listing index and the change
 * feed. Called from `describeStoreConformance`.
 */
import { describe, expect, it } from '@jest/globals';
import { LOG_CAP, TIMELINE_CAP, type LogEntry, type SignatureRecord, type Store, type StoreEvent } from '@mageflow/core';
import { delay, waitUntil } from './helpers';
import type { StoreHarness } from './store-conformance';

const TTL = 3600;
const log = (message: string, extra: Partial<LogEntry> = {}): LogEntry => ({ at: Date.now(), level: 'info', message, source: 'task', ...extra });

export function describeObservability(
  ctx: () => { store: Store; h: StoreHarness; id: string; key: (suffix: string) => string },
  record: (key: string, extra?: Partial<SignatureRecord>) => SignatureRecord,
): void {
  describe('observability', () => {
    describe('timeline', () => {
      it('records creation and every status change with worker, run and attempt, in the steps that change it', async () => {
        const { store, key } = ctx();
        const before = Date.now();
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        await store.updateRecord(key('a'), { set: { status: 'active', worker: 'w1', runId: 'r1', attempt: 1 } });
        await store.updateRecord(key('a'), { set: { dispatchedAt: 5 } }); // no status change: no entry
        await store.updateRecord(key('a'), { set: { status: 'done', attempt: 2 } });
        const timeline = await store.timeline(key('a'));
        expect(timeline).toEqual([
          { at: expect.any(Number), status: 'pending' },
          { at: expect.any(Number), status: 'active', from: 'pending', worker: 'w1', runId: 'r1', attempt: 1 },
          { at: expect.any(Number), status: 'done', from: 'active', worker: 'w1', runId: 'r1', attempt: 2 },
        ]);
        expect(timeline[0]!.at).toBeGreaterThanOrEqual(before);
        expect(timeline[2]!.at).toBeGreaterThanOrEqual(timeline[1]!.at);
        expect(await store.timeline(key('missing'))).toEqual([]);
      });

      it('tells how long a record has left to live', async () => {
        const { store, key } = ctx();
        await store.createRecords([record(key('a'))], { ttlSec: 120, track: true });
        const ttl = await store.recordTtl(key('a'));
        expect(ttl).toBeGreaterThan(100);
        expect(ttl).toBeLessThanOrEqual(120);
        expect(await store.recordTtl(key('missing'))).toBeNull();
      });

      it("records a member's begin by a claim and its end by a finish", async () => {
        const { store, key } = ctx();
        const s = key('swarm');
        await store.createRecords([record(s, { kind: 'swarm', status: 'active' }), record(key('m0'), { parent: s })], { ttlSec: TTL, track: true });
        await store.swarmAdd(s, [key('m0')], { ttlSec: TTL });
        const options = { maxConcurrency: 1, whenStatus: ['active' as const], worker: 'w9', ttlSec: TTL };
        await store.swarmClaim(s, { ...options, begin: { runIdPrefix: 'run', set: {} } });
        await store.swarmFinish(s, key('m0'), { ok: true, result: 1 }, options, { expect: { status: ['active'] }, set: { status: 'done' } });
        expect((await store.timeline(key('m0'))).map(({ status, from, worker, runId, attempt }) => ({ status, from, worker, runId, attempt }))).toEqual([
          { status: 'pending', from: undefined, worker: undefined, runId: undefined, attempt: undefined },
          { status: 'active', from: 'pending', worker: 'w9', runId: 'run.0', attempt: 1 },
          { status: 'done', from: 'active', worker: 'w9', runId: 'run.0', attempt: 1 },
        ]);
        // the record read back carries no trace of what the store keeps beside it
        expect(Object.keys((await store.getRecord(key('m0')))!).every((field) => !field.startsWith('#'))).toBe(true);
      });

      it(`keeps the last ${TIMELINE_CAP} entries`, async () => {
        const { store, key } = ctx();
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        for (let i = 0; i < TIMELINE_CAP + 5; i++) await store.updateRecord(key('a'), { set: { status: i % 2 === 0 ? 'suspended' : 'pending', attempt: i + 1 } });
        const timeline = await store.timeline(key('a'));
        expect(timeline).toHaveLength(TIMELINE_CAP);
        expect(timeline.at(-1)).toMatchObject({ attempt: TIMELINE_CAP + 5 });
        expect(timeline[0]).toMatchObject({ attempt: 6 });
      });
    });

    describe('logs', () => {
      it('keeps log entries per signature, readable by level and searchable by text', async () => {
        const { store, key } = ctx();
        await store.createRecords([record(key('a')), record(key('b'))], { ttlSec: TTL, track: true });
        await store.appendLogs(key('a'), [log('starting the import'), log('row 7 is odd', { level: 'warn', fields: { row: 7, file: 'Orders.csv' } })]);
        await store.appendLogs(key('a'), [log('it broke', { level: 'error', source: 'runtime', attempt: 2 })]);
        await store.appendLogs(key('b'), [log('other')]);
        expect((await store.readLogs(key('a'))).map((e) => e.message)).toEqual(['starting the import', 'row 7 is odd', 'it broke']);
        expect((await store.readLogs(key('a'), { levels: ['warn', 'error'] })).map((e) => e.level)).toEqual(['warn', 'error']);
        expect((await store.readLogs(key('a'), { text: 'IMPORT' })).map((e) => e.message)).toEqual(['starting the import']);
        expect((await store.readLogs(key('a'), { text: 'orders.csv' })).map((e) => e.fields)).toEqual([{ row: 7, file: 'Orders.csv' }]);
        expect((await store.readLogs(key('a'), { limit: 1 })).map((e) => e.message)).toEqual(['it broke']);
        expect((await store.readLogs(key('a')))[2]).toEqual({ at: expect.any(Number), level: 'error', message: 'it broke', source: 'runtime', attempt: 2 });
      });

      it(`keeps the last ${LOG_CAP} entries, drops entries for a signature that is gone, and refuses what is not a log entry`, async () => {
        const { store, key } = ctx();
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        await store.appendLogs(key('a'), Array.from({ length: LOG_CAP + 10 }, (_, i) => log(`line ${i}`)));
        const kept = await store.readLogs(key('a'));
        expect(kept).toHaveLength(LOG_CAP);
        expect(kept[0]!.message).toBe('line 10');
        await store.appendLogs(key('gone'), [log('nobody hears')]);
        expect(await store.readLogs(key('gone'))).toEqual([]);
        await expect(store.appendLogs(key('a'), [{ level: 'loud', message: 1 } as unknown as LogEntry])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });

      it('deletes the timeline and logs with the record, and expires them with it', async () => {
        const { store, h, key } = ctx();
        await store.createRecords([record(key('a')), record(key('b'))], { ttlSec: TTL, track: true });
        for (const k of [key('a'), key('b')]) await store.appendLogs(k, [log('hello')]);
        await store.deleteRecords([key('a')]);
        expect(await store.timeline(key('a'))).toEqual([]);
        expect(await store.readLogs(key('a'))).toEqual([]);
        await store.updateRecord(key('b'), { set: { status: 'done' }, ttlSec: 1 });
        if (h.ttl) expect(await h.ttl(key('b'))).toBeLessThanOrEqual(1);
        await delay(1300);
        expect(await store.timeline(key('b'))).toEqual([]);
        expect(await store.readLogs(key('b'))).toEqual([]);
      });
    });

    describe('listing', () => {
      async function listAll(store: Store, query: Parameters<Store['listRecords']>[0]): Promise<{ keys: string[]; pages: number }> {
        const keys: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listRecords({ ...query, cursor });
          keys.push(...page.records.map((r) => r.key));
          cursor = page.cursor;
          pages += 1;
        } while (cursor !== undefined && pages < 1000);
        return { keys, pages };
      }

      it('lists signatures newest first in pages that together hold each one once, filtered', async () => {
        const { store, key, id } = ctx();
        const t0 = Date.now() - 10_000;
        const s = key('swarm');
        const records = [
          record(key('t0'), { creationTime: t0, taskName: 'fetch', name: 'Nightly Import' }),
          record(key('t1'), { creationTime: t0 + 1, taskName: 'parse' }),
          record(s, { kind: 'swarm', creationTime: t0 + 2, taskName: 'swarm', status: 'active' }),
          // members created in the same millisecond: ties are ordered by key
          ...Array.from({ length: 5 }, (_, i) => record(key(`m${i}`), { creationTime: t0 + 3, parent: s, taskName: 'fetch' })),
        ];
        await store.createRecords(records, { ttlSec: TTL, track: true });
        await store.updateRecord(key('t1'), { set: { status: 'failed' } });
        const newestFirst = [...records].sort((a, b) => b.creationTime - a.creationTime || (a.key < b.key ? 1 : -1)).map((r) => r.key);
        const all = await listAll(store, { text: id, limit: 3 });
        expect(all.keys).toEqual(newestFirst);
        expect(all.pages).toBeGreaterThanOrEqual(3);
        const page = await store.listRecords({ text: id, limit: 2 });
        expect(page.records[0]).toEqual(records.find((r) => r.key === newestFirst[0]));
        expect((await listAll(store, { text: id, roots: true })).keys).toEqual([s, key('t1'), key('t0')]);
        expect((await listAll(store, { text: id, kinds: ['swarm'] })).keys).toEqual([s]);
        expect((await listAll(store, { text: id, statuses: ['failed', 'active'] })).keys).toEqual([s, key('t1')]);
        expect((await listAll(store, { text: id, taskName: 'fetch', roots: true })).keys).toEqual([key('t0')]);
        expect((await listAll(store, { text: 'nightly' })).keys).toEqual([key('t0')]);
        expect((await listAll(store, { text: id, from: t0 + 1, to: t0 + 2 })).keys).toEqual([s, key('t1')]);
        // a small scan budget gives short pages, and following them still finds every one once
        const budgeted = await listAll(store, { text: id, taskName: 'fetch', scanLimit: 2, limit: 10 });
        expect(budgeted.keys).toEqual(newestFirst.filter((k) => records.find((r) => r.key === k)!.taskName === 'fetch'));
        expect(budgeted.pages).toBeGreaterThan(2);
      });

      it('leaves out signatures that are gone, and goes on from a cursor whose signature is gone', async () => {
        const { store, key, id } = ctx();
        const t0 = Date.now();
        const keys = Array.from({ length: 6 }, (_, i) => key(`r${i}`));
        await store.createRecords(keys.map((k, i) => record(k, { creationTime: t0 + (i < 3 ? 0 : 1) })), { ttlSec: TTL, track: true });
        const first = await store.listRecords({ text: id, limit: 4 });
        expect(first.records.map((r) => r.key)).toEqual([keys[5], keys[4], keys[3], keys[2]]);
        await store.deleteRecords([keys[2]!, keys[0]!]);
        const rest = await store.listRecords({ text: id, cursor: first.cursor });
        expect(rest.records.map((r) => r.key)).toEqual([keys[1]]);
        await expect(store.listRecords({ cursor: 'nonsense' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.listRecords({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });

      it('counts the matching signatures by status', async () => {
        const { store, key, id } = ctx();
        await store.createRecords(Array.from({ length: 5 }, (_, i) => record(key(`c${i}`))), { ttlSec: TTL, track: true });
        await store.updateRecord(key('c0'), { set: { status: 'active' } });
        await store.updateRecord(key('c1'), { set: { status: 'done' } });
        await store.updateRecord(key('c2'), { set: { status: 'done' } });
        const { counts, complete } = await store.countRecords({ text: id });
        expect(complete).toBe(true);
        expect(counts).toMatchObject({ pending: 2, active: 1, done: 2, failed: 0, suspended: 0 });
        expect(await store.countRecords({ text: id, scanLimit: 2 })).toMatchObject({ complete: false });
      });
    });

    describe('change feed', () => {
      it('tells subscribers of status changes and log entries until they leave', async () => {
        const { store, key } = ctx();
        const events: StoreEvent[] = [];
        const sub = await store.subscribe((e) => events.push(e));
        try {
          await store.createRecords([record(key('a'), { taskName: 'feed-task' })], { ttlSec: TTL, track: true });
          await store.updateRecord(key('a'), { set: { status: 'active', worker: 'w1' } });
          await store.appendLogs(key('a'), [log('hello feed')]);
          await store.createRecords([record(key('member'), { parent: key('a') })], { ttlSec: TTL, track: false });
          await store.appendLogs(key('member'), [log('from a member')]);
          const mine = () => events.filter((e) => e.key === key('a'));
          await waitUntil(() => mine().length >= 3 && events.some((e) => e.type === 'log' && e.key === key('member')), 'the events on the feed', 5000);
          expect(events.find((e) => e.type === 'log' && e.key === key('member'))).toMatchObject({ parent: key('a'), entry: { message: 'from a member' } });
          expect(mine()).toEqual([
            { type: 'status', key: key('a'), kind: 'task', taskName: 'feed-task', entry: { at: expect.any(Number), status: 'pending' } },
            { type: 'status', key: key('a'), kind: 'task', taskName: 'feed-task', entry: { at: expect.any(Number), status: 'active', from: 'pending', worker: 'w1' } },
            { type: 'log', key: key('a'), entry: expect.objectContaining({ message: 'hello feed', level: 'info' }) },
          ]);
        } finally {
          await sub.close();
        }
        const seen = events.length;
        await store.updateRecord(key('a'), { set: { status: 'done' } });
        await delay(200);
        expect(events).toHaveLength(seen);
      });
    });
  });
}
