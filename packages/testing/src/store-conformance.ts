/**
 * The Store conformance suite: every Store implementation runs it.
 *
 *   describeStoreConformance('redis', async () => ({ store, cleanup }));
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CorruptRecordError, type Claimed, type Priority, type SignatureRecord, type Store } from '@mageflow/core';
import { delay, uniqueId } from './helpers';
import { describeObservability } from './observability-conformance';

export interface StoreHarness {
  store: Store;
  /** writes a raw value under a record key: these fields (stored as the store stores fields), or, without fields, garbage. */
  corrupt?(key: string, fields?: Record<string, unknown>): Promise<void>;
  /** seconds left to live for `key` and everything the store keeps for it (undefined: gone). */
  ttl?(key: string): Promise<number | undefined>;
  cleanup?(): Promise<void>;
}
export type StoreFactory = () => Promise<StoreHarness> | StoreHarness;

export function record(key: string, extra: Partial<SignatureRecord> = {}): SignatureRecord {
  return { key, kind: 'task', taskName: 't', kwargs: {}, successCallbacks: [], errorCallbacks: [], status: 'pending', creationTime: Date.now(), ...extra };
}

const TTL = 3600;
const claim = (worker = 'w1', maxConcurrency = 2) => ({ maxConcurrency, whenStatus: ['active' as const], worker, ttlSec: TTL });
const keysOf = (claimed: readonly Claimed[]) => claimed.map((c) => c.key);

export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    let id: string;
    const key = (suffix: string) => `task:${id}-${suffix}`;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
      id = uniqueId('conf');
    });
    afterEach(async () => {
      await h.cleanup?.();
    });

    describe('records', () => {
      it('reads back what it created, as a copy', async () => {
        const r = record(key('a'), { kwargs: { nested: { list: [1, 2] } }, result: { value: null } });
        await store.createRecords([r], { ttlSec: TTL, track: true });
        const read = await store.getRecord(r.key);
        expect(read).toEqual(r);
        read!.kwargs.changed = true;
        expect((await store.getRecord(r.key))!.kwargs).toEqual({ nested: { list: [1, 2] } });
      });

      it('creates all or none when a key already exists', async () => {
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        await expect(store.createRecords([record(key('b')), record(key('a'))], { ttlSec: TTL, track: true })).rejects.toThrow();
        expect(await store.getRecord(key('b'))).toBeNull();
      });

      it('returns null for missing keys, in order', async () => {
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        const read = await store.getRecords([key('missing'), key('a')]);
        expect(read[0]).toBeNull();
        expect(read[1]!.key).toBe(key('a'));
      });

      it('updates only when every expectation holds', async () => {
        await store.createRecords([record(key('a'), { runId: 'r1', attempt: 1 })], { ttlSec: TTL, track: true });
        const wrongStatus = await store.updateRecord(key('a'), { expect: { status: ['active'] }, set: { status: 'done' } });
        expect(wrongStatus).toMatchObject({ ok: false, reason: 'mismatch', record: { status: 'pending' } });
        const wrongRun = await store.updateRecord(key('a'), { expect: { runId: 'r2' }, set: { status: 'done' } });
        expect(wrongRun.ok).toBe(false);
        const wrongAbsent = await store.updateRecord(key('a'), { expect: { dispatchedAt: null, runId: null }, set: { status: 'done' } });
        expect(wrongAbsent.ok).toBe(false);
        const ok = await store.updateRecord(key('a'), {
          expect: { status: ['pending', 'active'], runId: 'r1', attempt: 1, dispatchedAt: null },
          set: { status: 'active', worker: 'w3', message: { value: [1, { a: null }] } },
          unset: ['attempt'],
        });
        expect(ok).toMatchObject({ ok: true, record: { status: 'active', worker: 'w3', message: { value: [1, { a: null }] } } });
        const stored = await store.getRecord(key('a'));
        expect(stored!.attempt).toBeUndefined();
        expect(stored!.message).toEqual({ value: [1, { a: null }] });
      });

      it('reports a missing record on update', async () => {
        expect(await store.updateRecord(key('nope'), { set: { status: 'done' } })).toEqual({ ok: false, reason: 'missing' });
      });

      it('applies one of two racing conditional updates', async () => {
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.updateRecord(key('a'), { expect: { status: ['pending'] }, set: { status: 'active', runId: `r${i}` } })),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(1);
      });

      it('deletes records with everything kept for them', async () => {
        await store.createRecords([record(key('s'), { kind: 'swarm', status: 'active' }), record(key('m'))], { ttlSec: TTL, track: true });
        await store.swarmAdd(key('s'), [key('m')], { ttlSec: TTL });
        expect(await store.deleteRecords([key('s'), key('m')])).toEqual({ ok: true });
        expect(await store.getRecord(key('s'))).toBeNull();
        expect(await store.swarmMembers(key('s'))).toEqual([]);
        expect((await store.swarmCounts(key('s'))).total).toBe(0);
      });

      it('expires records after their time to live', async () => {
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        await store.expireRecords([key('a')], 1);
        if (h.ttl) expect(await h.ttl(key('a'))).toBeLessThanOrEqual(1);
        await delay(1300);
        expect(await store.getRecord(key('a'))).toBeNull();
      });

      it('sets the time to live with an update', async () => {
        if (!h.ttl) return;
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        await store.updateRecord(key('a'), { set: { status: 'done' }, ttlSec: 42 });
        const ttl = await h.ttl(key('a'));
        expect(ttl).toBeGreaterThan(30);
        expect(ttl).toBeLessThanOrEqual(42);
      });

      it('lists tracked records until untracked, in pages', async () => {
        const keys = Array.from({ length: 7 }, (_, i) => key(`o${i}`));
        await store.createRecords(keys.map((k) => record(k)), { ttlSec: TTL, track: true });
        await store.createRecords([record(key('untracked'))], { ttlSec: TTL, track: false });
        await store.updateRecord(keys[0]!, { set: { settled: true }, untrack: true });
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listOpen(cursor, 3);
          seen.push(...page.keys);
          cursor = page.cursor;
        } while (cursor !== undefined);
        const mine = seen.filter((k) => k.includes(id));
        expect(new Set(mine)).toEqual(new Set(keys.slice(1)));
      });

      it('keeps JSON values exactly: numbers to the last digit, unicode, quotes, empty lists and objects', async () => {
        const value = {
          precise: 0.1 + 0.2, max: Number.MAX_SAFE_INTEGER, min: Number.MIN_VALUE, big: 1.7976931348623157e308, neg: -12.5e-10,
          text: 'quote " backslash \\ newline \n tab \t nul \u0000 unicode ✓ 𝄞 lua %s %d [[ ]]',
          empty: { list: [], object: {}, nested: [[], [{}]] }, nulls: [null, { n: null }], bool: [true, false],
          tagged: { $mf: 'date', v: '2024-01-01T00:00:00.000Z' },
        };
        const r = record(key('json'), { kwargs: value, message: { value: [value] }, result: { value } });
        await store.createRecords([r], { ttlSec: TTL, track: true });
        expect(await store.getRecord(r.key)).toEqual(r);
        const updated = await store.updateRecord(r.key, { set: { result: { value: { again: value } } } });
        expect(updated).toMatchObject({ ok: true, record: { result: { value: { again: value } } } });
        expect((await store.getRecord(r.key))!.result).toEqual({ value: { again: value } });
      });

      it('refuses a record whose stored key names another signature', async () => {
        if (!h.corrupt) return;
        await store.createRecords([record(key('a')), record(key('b'))], { ttlSec: TTL, track: true });
        await h.corrupt(key('a'), { ...record(key('b')) });
        await expect(store.getRecord(key('a'))).rejects.toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining(key('b')) });
        await expect(store.getRecords([key('b'), key('a')])).rejects.toBeInstanceOf(CorruptRecordError);
        expect((await store.getRecord(key('b')))!.key).toBe(key('b'));
      });

      it('gives a typed error naming the key for a corrupt record', async () => {
        if (!h.corrupt) return;
        await store.createRecords([record(key('bad'))], { ttlSec: TTL, track: true });
        await h.corrupt(key('bad'));
        const read = store.getRecord(key('bad'));
        await expect(read).rejects.toBeInstanceOf(CorruptRecordError);
        await expect(store.getRecord(key('bad'))).rejects.toThrow(key('bad'));
      });
    });

    describe('swarms', () => {
      const swarmKey = () => key('swarm');
      const members = (n: number) => Array.from({ length: n }, (_, i) => key(`m${i}`));
      async function activeSwarm(n: number) {
        await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
        const added = await store.swarmAdd(swarmKey(), members(n), { ttlSec: TTL });
        expect(added.ok).toBe(true);
      }

      it('gives slots up to maxConcurrency, only while the swarm is active', async () => {
        await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'pending' })], { ttlSec: TTL, track: true });
        await store.swarmAdd(swarmKey(), members(5), { ttlSec: TTL });
        expect(keysOf(await store.swarmClaim(swarmKey(), claim()))).toEqual([]);
        await store.updateRecord(swarmKey(), { set: { status: 'active' } });
        expect(keysOf(await store.swarmClaim(swarmKey(), { ...claim('w1', 2), limit: 1 }))).toEqual(members(1));
        expect(keysOf(await store.swarmClaim(swarmKey(), claim('w1', 2)))).toEqual([members(2)[1]]);
        expect(keysOf(await store.swarmClaim(swarmKey(), claim('w1', 2)))).toEqual([]);
        expect(await store.swarmCounts(swarmKey())).toEqual({ total: 5, queued: 3, running: 2, done: 0, failed: 0, closed: false });
        expect(await store.swarmRunning(swarmKey())).toEqual(expect.arrayContaining(members(2).map((member) => ({ member, worker: 'w1' }))));
      });

      it('counts a finishing member once and hands its slot on in the same step', async () => {
        await activeSwarm(3);
        await store.swarmClaim(swarmKey(), claim('w1', 2));
        const first = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: { n: 0 } }, claim('w2', 2));
        expect(first).toEqual({ counted: true, counts: expect.objectContaining({ done: 1, running: 2, queued: 0 }), claimed: [{ key: key('m2'), record: null }] });
        const again = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: { n: 0 } }, claim('w2', 2));
        expect(again.counted).toBe(false);
        expect(again.counts.done).toBe(1);
        await store.swarmFinish(swarmKey(), key('m1'), { ok: false }, claim());
        await store.swarmFinish(swarmKey(), key('m2'), { ok: true, result: 'two' }, claim());
        expect(await store.swarmCounts(swarmKey())).toEqual({ total: 3, queued: 0, running: 0, done: 2, failed: 1, closed: false });
        expect(await store.swarmResults(swarmKey())).toEqual([{ n: 0 }, 'two']);
      });

      it('ends a member and counts it in one step, or does neither when the end does not apply', async () => {
        await activeSwarm(3);
        await store.createRecords(members(3).map((m) => record(m, { status: 'active', runId: `run-${m}`, parent: swarmKey() })), { ttlSec: TTL, track: false });
        await store.swarmClaim(swarmKey(), claim('w', 1));
        const end = (m: string, runId: string) => ({ expect: { status: ['active' as const], runId }, set: { status: 'done' as const, result: { value: 7 } }, ttlSec: 60 });
        const stale = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 7 }, claim('w', 1), end(key('m0'), 'another run'));
        expect(stale).toMatchObject({ counted: false, claimed: [], ended: { ok: false, reason: 'mismatch' }, counts: { done: 0, running: 1, queued: 2 } });
        expect((await store.getRecord(key('m0')))!.status).toBe('active');
        const ended = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 7 }, claim('w', 1), end(key('m0'), `run-${key('m0')}`));
        expect(ended).toMatchObject({ counted: true, ended: { ok: true, record: { status: 'done', result: { value: 7 } } }, counts: { done: 1, running: 1 } });
        expect(keysOf(ended.claimed)).toEqual([key('m1')]);
        expect(await store.getRecord(key('m0'))).toMatchObject({ status: 'done', result: { value: 7 } });
        if (h.ttl) expect(await h.ttl(key('m0'))).toBeLessThanOrEqual(60);
        expect(await store.swarmResults(swarmKey())).toEqual([7]);
        const missing = await store.swarmFinish(swarmKey(), key('gone'), { ok: false }, claim('w', 1), end(key('gone'), 'r'));
        expect(missing).toMatchObject({ counted: false, ended: { ok: false, reason: 'missing' } });
        expect((await store.swarmCounts(swarmKey())).failed).toBe(0);
      });

      it('hands claimed members back with their records, and begins the untouched tasks among them when asked', async () => {
        await activeSwarm(6);
        await store.createRecords(
          [
            record(key('m0')),
            record(key('m1'), { kind: 'chain' }),
            record(key('m2'), { dispatchedAt: 1 }),
            record(key('m4')),
            record(key('m5')),
          ],
          { ttlSec: TTL, track: false },
        );
        if (h.corrupt) await h.corrupt(key('m4'));
        const begin = { runIdPrefix: 'p', set: { dispatchedAt: 5 } };
        const claimed = await store.swarmClaim(swarmKey(), { ...claim('w', 10), begin });
        expect(keysOf(claimed)).toEqual(members(6));
        const [m0, m1, m2, m3, m4, m5] = claimed;
        expect(m0).toMatchObject({ runId: 'p.0', record: { status: 'active', runId: 'p.0', attempt: 1, worker: 'w', dispatchedAt: 5 } });
        expect(await store.getRecord(key('m0'))).toEqual((m0!.record));
        expect(m1).toMatchObject({ record: { kind: 'chain', status: 'pending' } }); // not a task: its own start begins it
        expect(m1!.runId).toBeUndefined();
        expect(m2!.runId).toBeUndefined(); // already sent: the run that holds it begins it
        expect(m2!.record).toMatchObject({ status: 'pending', dispatchedAt: 1 });
        expect(m3).toEqual({ key: key('m3'), record: null });
        if (h.corrupt) expect(m4!.record).toBeInstanceOf(CorruptRecordError);
        expect(m5).toMatchObject({ runId: 'p.5', record: { status: 'active', runId: 'p.5' } });
        expect(await store.swarmCounts(swarmKey())).toMatchObject({ running: 6, queued: 0 });
      });

      it('begins the member a finish hands its slot to, in the same step', async () => {
        await activeSwarm(2);
        await store.createRecords(members(2).map((m) => record(m)), { ttlSec: TTL, track: false });
        const first = await store.swarmClaim(swarmKey(), { ...claim('w', 1), begin: { runIdPrefix: 'a', set: {} } });
        expect(first).toMatchObject([{ key: key('m0'), runId: 'a.0', record: { status: 'active' } }]);
        const end = { expect: { status: ['active' as const], runId: 'a.0' }, set: { status: 'done' as const, result: { value: 1 } } };
        const next = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 1 }, { ...claim('w2', 1), begin: { runIdPrefix: 'b', set: { message: { value: 1 } } } }, end);
        expect(next.claimed).toMatchObject([{ key: key('m1'), runId: 'b.0', record: { status: 'active', runId: 'b.0', worker: 'w2', message: { value: 1 } } }]);
        expect((await store.getRecord(key('m1')))!.message).toEqual({ value: 1 });
      });

      it('keeps results in the order members were added, whatever the order they finish', async () => {
        await activeSwarm(4);
        await store.swarmClaim(swarmKey(), claim('w', 4));
        for (const i of [3, 1, 0, 2]) await store.swarmFinish(swarmKey(), key(`m${i}`), { ok: true, result: i }, claim('w', 4));
        expect(await store.swarmResults(swarmKey())).toEqual([0, 1, 2, 3]);
        expect(await store.swarmMembers(swarmKey())).toEqual(members(4));
      });

      it('adds 150,000 members in one all-or-none step, in order', async () => {
        await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
        const many = Array.from({ length: 150_000 }, (_, i) => `${key('bulk')}-${i}`);
        expect(await store.swarmAdd(swarmKey(), many, { ttlSec: TTL })).toMatchObject({ ok: true, counts: { total: 150_000, queued: 150_000 } });
        const claimed = await store.swarmClaim(swarmKey(), claim('w', 3));
        expect(keysOf(claimed)).toEqual(many.slice(0, 3));
        expect((await store.swarmMembers(swarmKey())).slice(-1)).toEqual([many[149_999]]);
      }, 60_000);

      it('a member that ends while queued leaves the queue: counted once, never claimed', async () => {
        await activeSwarm(4);
        expect(keysOf(await store.swarmClaim(swarmKey(), claim('w', 1)))).toEqual([key('m0')]);
        const gone = await store.swarmFinish(swarmKey(), key('m2'), { ok: false }, claim('w', 1));
        expect(gone).toMatchObject({ counted: true, claimed: [], counts: { queued: 2, running: 1, failed: 1 } });
        expect((await store.swarmFinish(swarmKey(), key('m2'), { ok: false }, claim('w', 1))).counted).toBe(false);
        const next = await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 0 }, claim('w', 1));
        expect(keysOf(next.claimed)).toEqual([key('m1')]);
        expect(keysOf((await store.swarmFinish(swarmKey(), key('m1'), { ok: true, result: 1 }, claim('w', 1))).claimed)).toEqual([key('m3')]);
        expect(await store.swarmDrainQueue(swarmKey())).toEqual([]);
        expect(await store.swarmCounts(swarmKey())).toMatchObject({ total: 4, queued: 0, running: 1, done: 2, failed: 1 });
      });

      it('a reset puts every member back in the queue in order, with counts and results cleared, closed kept', async () => {
        await activeSwarm(3);
        await store.swarmClose(swarmKey());
        await store.swarmClaim(swarmKey(), claim('w', 2));
        await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 0 }, claim('w', 2));
        await store.swarmFinish(swarmKey(), key('m1'), { ok: false }, claim('w', 2));
        await store.swarmReset(swarmKey());
        expect(await store.swarmCounts(swarmKey())).toEqual({ total: 3, queued: 3, running: 0, done: 0, failed: 0, closed: true });
        expect(await store.swarmResults(swarmKey())).toEqual([]);
        expect(keysOf(await store.swarmClaim(swarmKey(), claim('w', 5)))).toEqual(members(3));
        expect((await store.swarmFinish(swarmKey(), key('m0'), { ok: true, result: 'again' }, claim('w', 5))).counted).toBe(true);
        expect(await store.swarmResults(swarmKey())).toEqual(['again']);
      });

      it('claims nothing once stopAfterFailures members have failed, in the step that counts the failure', async () => {
        await activeSwarm(5);
        const stop = { ...claim('w', 2), stopAfterFailures: 2 };
        expect(keysOf(await store.swarmClaim(swarmKey(), stop))).toEqual([key('m0'), key('m1')]);
        expect(keysOf((await store.swarmFinish(swarmKey(), key('m0'), { ok: false }, stop)).claimed)).toEqual([key('m2')]);
        const second = await store.swarmFinish(swarmKey(), key('m1'), { ok: false }, stop);
        expect(second).toMatchObject({ claimed: [], counts: { failed: 2, running: 1, queued: 2 } });
        expect(keysOf(await store.swarmClaim(swarmKey(), stop))).toEqual([]);
      });

      it('refuses members past maxTaskAllowed, all or none, and closes when reached', async () => {
        await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
        expect((await store.swarmAdd(swarmKey(), members(2), { maxTaskAllowed: 3, ttlSec: TTL })).ok).toBe(true);
        const over = await store.swarmAdd(swarmKey(), [key('x'), key('y')], { maxTaskAllowed: 3, ttlSec: TTL });
        expect(over).toMatchObject({ ok: false, reason: 'too_many' });
        expect((await store.swarmCounts(swarmKey())).total).toBe(2);
        const fill = await store.swarmAdd(swarmKey(), [key('x')], { maxTaskAllowed: 3, ttlSec: TTL });
        expect(fill).toMatchObject({ ok: true, counts: { total: 3, closed: true } });
        expect(await store.swarmAdd(swarmKey(), [key('z')], { ttlSec: TTL })).toMatchObject({ ok: false, reason: 'closed' });
      });

      it('closes, drains the queue, and reassigns slots only from their holder', async () => {
        await activeSwarm(4);
        await store.swarmClaim(swarmKey(), claim('w1', 1));
        expect(await store.swarmReassign(swarmKey(), key('m0'), 'other', 'w2')).toBe(false);
        expect(await store.swarmReassign(swarmKey(), key('m0'), 'w1', 'w2')).toBe(true);
        expect(await store.swarmRunning(swarmKey())).toEqual([{ member: key('m0'), worker: 'w2' }]);
        expect(await store.swarmDrainQueue(swarmKey())).toEqual([key('m1'), key('m2'), key('m3')]);
        expect((await store.swarmClose(swarmKey())).closed).toBe(true);
        expect(await store.swarmCounts(swarmKey())).toMatchObject({ queued: 0, running: 1, closed: true });
      });

      it('never exceeds the cap nor loses a count under racing completions', async () => {
        const n = 200;
        const cap = 7;
        await activeSwarm(n);
        let running = keysOf(await store.swarmClaim(swarmKey(), claim('w', cap)));
        let maxSeen = running.length;
        const finished = new Set<string>();
        while (running.length > 0) {
          // every running member finishes at once, some twice (a retry), each claiming the next
          const batch = running;
          running = [];
          const results = await Promise.all(
            [...batch, ...batch.slice(0, 2)].map((m) => store.swarmFinish(swarmKey(), m, { ok: true, result: m }, claim('w', cap))),
          );
          batch.forEach((m) => finished.add(m));
          for (const r of results) {
            running.push(...keysOf(r.claimed));
            maxSeen = Math.max(maxSeen, r.counts.running);
          }
        }
        expect(maxSeen).toBeLessThanOrEqual(cap);
        expect(finished.size).toBe(n);
        expect(await store.swarmCounts(swarmKey())).toEqual({ total: n, queued: 0, running: 0, done: n, failed: 0, closed: false });
      });

      describe('priorities', () => {
        const P = (n: number, ...priorities: (Priority | undefined)[]) => ({ members: members(n), priorities });

        it('claims high before medium before low, each in the order added', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const { members: m, priorities } = P(7, 'low', undefined, 'high', 'medium', 'low', 'high', undefined);
          expect((await store.swarmAdd(swarmKey(), m.slice(0, 4), { ttlSec: TTL, priorities: priorities.slice(0, 4) })).ok).toBe(true);
          expect((await store.swarmAdd(swarmKey(), m.slice(4), { ttlSec: TTL, priorities: priorities.slice(4) })).ok).toBe(true);
          const order = [];
          for (let i = 0; i < 7; i++) order.push(...keysOf(await store.swarmClaim(swarmKey(), { ...claim('w', 7), limit: 1 })));
          expect(order).toEqual([m[2], m[5], m[1], m[3], m[6], m[0], m[4]]);
        });

        it('a claim of several and a finish hand slots on by priority too', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const m = members(5);
          await store.swarmAdd(swarmKey(), m, { ttlSec: TTL, priorities: ['low', 'low', 'medium', 'high', 'high'] });
          expect(keysOf(await store.swarmClaim(swarmKey(), claim('w', 3)))).toEqual([m[3], m[4], m[2]]);
          expect(keysOf((await store.swarmFinish(swarmKey(), m[4]!, { ok: true, result: 4 }, claim('w', 3))).claimed)).toEqual([m[0]]);
        });

        it('moves a queued member to another priority, keeping its place by order added, and writes its record', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const m = members(5);
          await store.createRecords(m.map((k) => record(k, { parent: swarmKey() })), { ttlSec: TTL, track: false });
          await store.swarmAdd(swarmKey(), m, { ttlSec: TTL });
          expect(await store.swarmSetPriority(swarmKey(), m[3]!, 'high')).toBe(true);
          expect(await store.swarmSetPriority(swarmKey(), m[1]!, 'high')).toBe(true);
          expect(await store.swarmSetPriority(swarmKey(), m[0]!, 'low')).toBe(true);
          expect((await store.getRecord(m[3]!))?.priority).toBe('high');
          expect((await store.getRecord(m[0]!))?.priority).toBe('low');
          expect(await store.swarmDrainQueue(swarmKey())).toEqual([m[1], m[3], m[2], m[4], m[0]]);
        });

        it('refuses, writing nothing, to move a member that is not queued', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const m = members(3);
          await store.createRecords(m.map((k) => record(k, { parent: swarmKey() })), { ttlSec: TTL, track: false });
          await store.swarmAdd(swarmKey(), m, { ttlSec: TTL });
          await store.swarmClaim(swarmKey(), { ...claim('w', 3), limit: 2 });
          await store.swarmFinish(swarmKey(), m[1]!, { ok: true, result: 1 }, { ...claim('w', 3), limit: 0 });
          expect(await store.swarmSetPriority(swarmKey(), m[0]!, 'high')).toBe(false); // running
          expect(await store.swarmSetPriority(swarmKey(), m[1]!, 'high')).toBe(false); // ended
          expect(await store.swarmSetPriority(swarmKey(), key('stranger'), 'high')).toBe(false);
          expect(await store.swarmSetPriority(key('no-such-swarm'), m[2]!, 'high')).toBe(false);
          expect((await store.getRecord(m[0]!))?.priority).toBeUndefined();
          expect((await store.getRecord(m[1]!))?.priority).toBeUndefined();
          expect(await store.swarmCounts(swarmKey())).toMatchObject({ queued: 1, running: 1, done: 1 });
        });

        it('a reset queues every member again at the priority it had', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const m = members(4);
          await store.swarmAdd(swarmKey(), m, { ttlSec: TTL, priorities: ['low', undefined, 'medium', undefined] });
          await store.swarmSetPriority(swarmKey(), m[3]!, 'high');
          await store.swarmClaim(swarmKey(), claim('w', 2));
          await store.swarmReset(swarmKey());
          expect(await store.swarmDrainQueue(swarmKey())).toEqual([m[3], m[1], m[2], m[0]]);
        });

        it('claims every member exactly once while priorities change under racing claims', async () => {
          await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
          const n = 120;
          const m = members(n);
          const levels: Priority[] = ['high', 'medium', 'low'];
          await store.swarmAdd(swarmKey(), m, { ttlSec: TTL, priorities: m.map((_, i) => levels[i % 3]) });
          const claimed: string[] = [];
          const moved: boolean[] = [];
          let running: string[] = [];
          for (let round = 0; claimed.length < n && round < 1000; round++) {
            const [claims, changes] = await Promise.all([
              Promise.all([1, 2, 3].map(() => store.swarmClaim(swarmKey(), { ...claim('w', 6), limit: 2 }))),
              Promise.all(m.slice(round * 3, round * 3 + 3).map((k, i) => store.swarmSetPriority(swarmKey(), k, levels[(round + i) % 3]!))),
            ]);
            const fresh = claims.flatMap(keysOf);
            claimed.push(...fresh);
            moved.push(...changes);
            running.push(...fresh);
            await Promise.all(running.map((k) => store.swarmFinish(swarmKey(), k, { ok: true, result: null }, { ...claim('w', 6), limit: 0 })));
            running = [];
          }
          expect(claimed).toHaveLength(n);
          expect(new Set(claimed).size).toBe(n);
          expect(await store.swarmCounts(swarmKey())).toEqual({ total: n, queued: 0, running: 0, done: n, failed: 0, closed: false });
          expect(moved.some(Boolean)).toBe(true);
        });
      });

      it('gives the swarm keys the record time to live', async () => {
        if (!h.ttl) return;
        await store.createRecords([record(swarmKey(), { kind: 'swarm', status: 'active' })], { ttlSec: 500, track: true });
        await store.swarmAdd(swarmKey(), members(2), { ttlSec: 500 });
        await store.expireRecords([swarmKey()], 60);
        const ttl = await h.ttl(swarmKey());
        expect(ttl).toBeGreaterThan(50);
        expect(ttl).toBeLessThanOrEqual(60);
      });
    });

    describe('graphs', () => {
      // a -> c, b -> c (a join), c -> d, c -> e
      const graphKey = () => key('graph');
      const node = (name: string) => key(`node-${name}`);
      const edge = (i: number, target: string, incoming: number, taken: boolean) => ({ edge: i, target: node(target), incoming, taken });
      const done = (result: unknown) => ({ ok: true as const, result });
      async function activeGraph(entries: string[]) {
        await store.createRecords([record(graphKey(), { kind: 'graph', status: 'active' })], { ttlSec: TTL, track: true });
        await store.swarmAdd(graphKey(), entries.map(node), { ttlSec: TTL });
      }

      it('settles a node once: counts it, records its edges, and queues a target once all its incoming edges are settled and one was taken', async () => {
        await activeGraph(['a', 'b']);
        expect(keysOf(await store.swarmClaim(graphKey(), claim('w', 5)))).toEqual([node('a'), node('b')]);
        const a = await store.graphSettle(graphKey(), node('a'), { outcome: done(1), edges: [edge(0, 'c', 2, true)] }, claim('w', 5));
        expect(a).toEqual({ counted: true, ready: [], skip: [], settled: 1, counts: expect.objectContaining({ total: 2, done: 1, running: 1 }), claimed: [] });
        const again = await store.graphSettle(graphKey(), node('a'), { outcome: done(1), edges: [edge(0, 'c', 2, true)] }, claim('w', 5));
        expect(again).toMatchObject({ counted: false, ready: [], skip: [], settled: 1, counts: { done: 1 } });
        const b = await store.graphSettle(graphKey(), node('b'), { outcome: done(2), edges: [edge(1, 'c', 2, false)] }, claim('w', 5));
        expect(b).toMatchObject({ counted: true, ready: [node('c')], skip: [], settled: 2, counts: { total: 3, done: 2, running: 1, queued: 0 } });
        expect(keysOf(b.claimed)).toEqual([node('c')]);
        const state = await store.graphState(graphKey());
        expect(state).toEqual({
          settled: 2,
          skipPending: [],
          nodes: { [node('a')]: { outcome: 'done', taken: true, result: 1 }, [node('b')]: { outcome: 'done', taken: false, result: 2 } },
          edges: { 0: 'taken', 1: 'skipped' },
        });
        expect(await store.graphState(graphKey(), { nodes: [node('b'), node('c')], edges: [1] })).toEqual({
          settled: 2, skipPending: [], nodes: { [node('b')]: { outcome: 'done', taken: false, result: 2 } }, edges: { 1: 'skipped' },
        });
        expect(await store.swarmMembers(graphKey())).toEqual([node('a'), node('b')]); // ready nodes are queued, not listed
      });

      it('lists a target none of whose incoming edges was taken as a pending skip until it is settled as skipped; skipping propagates', async () => {
        await activeGraph(['a']);
        await store.swarmClaim(graphKey(), claim('w', 5));
        const failed = await store.graphSettle(graphKey(), node('a'), { outcome: { ok: false }, edges: [edge(0, 'c', 1, false)] }, claim('w', 5));
        expect(failed).toMatchObject({ counted: true, ready: [], skip: [node('c')], settled: 1, counts: { failed: 1, running: 0 } });
        expect((await store.graphState(graphKey())).skipPending).toEqual([node('c')]);
        const skipped = await store.graphSettle(graphKey(), node('c'), { outcome: { skipped: true }, edges: [edge(1, 'd', 1, false)] }, claim('w', 5));
        expect(skipped).toMatchObject({ counted: true, skip: [node('d')], settled: 2, counts: { total: 1, done: 0, failed: 1 } });
        const state = await store.graphState(graphKey());
        expect(state.skipPending).toEqual([node('d')]);
        expect(state.nodes[node('c')]).toEqual({ outcome: 'skipped', taken: false });
      });

      it('two racing settlements of a join\'s parents queue the join exactly once', async () => {
        for (let round = 0; round < 10; round++) {
          id = uniqueId('conf');
          await activeGraph(['a', 'b']);
          await store.swarmClaim(graphKey(), claim('w', 5));
          const [a, b] = await Promise.all([
            store.graphSettle(graphKey(), node('a'), { outcome: done('A'), edges: [edge(0, 'c', 2, true)] }, claim('w1', 5)),
            store.graphSettle(graphKey(), node('b'), { outcome: done('B'), edges: [edge(1, 'c', 2, true)] }, claim('w2', 5)),
          ]);
          expect([...a.ready, ...b.ready]).toEqual([node('c')]);
          expect([...a.claimed, ...b.claimed].map((c) => c.key)).toEqual([node('c')]);
          expect(await store.swarmCounts(graphKey())).toMatchObject({ total: 3, done: 2, running: 1, queued: 0 });
        }
      });

      it('a reset queues only the entry nodes again and clears the progress', async () => {
        await activeGraph(['a']);
        await store.swarmClaim(graphKey(), claim('w', 5));
        await store.graphSettle(graphKey(), node('a'), { outcome: done(1), edges: [edge(0, 'c', 1, true)] }, claim('w', 5));
        await store.swarmReset(graphKey());
        expect(await store.swarmCounts(graphKey())).toMatchObject({ total: 1, queued: 1, running: 0, done: 0 });
        expect(await store.graphState(graphKey())).toEqual({ settled: 0, skipPending: [], nodes: {}, edges: {} });
        expect(keysOf(await store.swarmClaim(graphKey(), claim('w', 5)))).toEqual([node('a')]);
      });
    });

    describe('member pages', () => {
      it('reads a page of a swarm\'s members, in the order added', async () => {
        const swarm = key('paged');
        const members = Array.from({ length: 25 }, (_, i) => key(`p${i}`));
        await store.createRecords([record(swarm, { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
        await store.swarmAdd(swarm, members, { ttlSec: TTL });
        expect(await store.swarmMembers(swarm, { offset: 0, limit: 10 })).toEqual(members.slice(0, 10));
        expect(await store.swarmMembers(swarm, { offset: 20, limit: 10 })).toEqual(members.slice(20));
        expect(await store.swarmMembers(swarm, { offset: 30, limit: 10 })).toEqual([]);
      });

      it('reads a page of results by member positions: only those that succeeded, in the order added, whatever the order they ended', async () => {
        const swarm = key('results');
        const members = Array.from({ length: 12 }, (_, i) => key(`r${i}`));
        await store.createRecords([record(swarm, { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
        await store.swarmAdd(swarm, members, { ttlSec: TTL });
        await store.swarmAdd(swarm, [members[0]!], { ttlSec: TTL }); // added twice: listed (and its result read) at both positions
        await store.swarmClaim(swarm, claim('w', 12));
        // ends in reverse order; every third fails, r11 never ends
        for (let i = 10; i >= 0; i--) await store.swarmFinish(swarm, members[i]!, i % 3 === 2 ? { ok: false } : { ok: true, result: { i } }, claim('w', 12));
        const all = await store.swarmResults(swarm);
        const pages: unknown[] = [];
        for (let offset = 0; offset < 13; offset += 5) {
          const page = await store.swarmResults(swarm, { offset, limit: 5 });
          expect(page.length).toBeLessThanOrEqual(5);
          pages.push(...page);
        }
        expect(pages).toEqual(all);
        expect(await store.swarmResults(swarm, { offset: 0, limit: 5 })).toEqual([{ i: 0 }, { i: 1 }, { i: 3 }, { i: 4 }]);
        expect(await store.swarmResults(swarm, { offset: 10, limit: 5 })).toEqual([{ i: 10 }, { i: 0 }]); // r11 has no result yet; r0 again at position 12
        expect(await store.swarmResults(swarm, { offset: 13, limit: 5 })).toEqual([]);
        expect(await store.swarmResults(swarm, { offset: 3, limit: 0 })).toEqual([]);
        expect(await store.swarmResults(key('no-such-swarm'), { offset: 0, limit: 5 })).toEqual([]);
      });

      it('refuses a page that is not a whole offset and limit', async () => {
        for (const page of [{ offset: -1, limit: 5 }, { offset: 0, limit: 1.5 }, { offset: Number.NaN, limit: 1 }]) {
          await expect(store.swarmResults(key('s'), page)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
          await expect(store.swarmMembers(key('s'), page)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
      });
    });

    describe('leases', () => {
      it('locks against other holders, blocks updates and deletion, and lapses', async () => {
        await store.createRecords([record(key('a'))], { ttlSec: TTL, track: true });
        expect(await store.lock(key('a'), 'h1', 400)).toBe(true);
        expect(await store.lock(key('a'), 'h2', 400)).toBe(false);
        expect(await store.updateRecord(key('a'), { set: { status: 'active' } })).toMatchObject({ ok: false, reason: 'locked' });
        expect((await store.updateRecord(key('a'), { set: { status: 'active' }, lockHolder: 'h1' })).ok).toBe(true);
        expect(await store.deleteRecords([key('a')])).toEqual({ ok: false, locked: [key('a')] });
        await delay(600);
        expect(await store.lock(key('a'), 'h2', 400)).toBe(true);
        await store.unlock(key('a'), 'h2');
        expect(await store.deleteRecords([key('a')])).toEqual({ ok: true });
      });

      it('knows live workers until their heartbeat runs out', async () => {
        await store.heartbeat(`${id}-w1`, 300);
        await store.heartbeat(`${id}-w2`, 5000);
        expect(await store.liveWorkers()).toEqual(expect.any(Set));
        expect((await store.liveWorkers()).has(`${id}-w1`)).toBe(true);
        await delay(500);
        const live = await store.liveWorkers();
        expect(live.has(`${id}-w1`)).toBe(false);
        expect(live.has(`${id}-w2`)).toBe(true);
      });
    });

    describeObservability(() => ({ store, h, id, key }), record);

    describe('audit', () => {
      it('keeps audit entries under their key', async () => {
        await store.audit({ at: 1, action: 'cancel', key: key('a'), keys: [key('a'), key('b')] }, TTL);
        await store.audit({ at: 2, action: 'delete', key: key('a'), keys: [key('a')] }, TTL);
        expect((await store.auditLog(key('a'))).map((e) => e.action)).toEqual(['cancel', 'delete']);
        expect(await store.auditLog(key('none'))).toEqual([]);
      });
    });
  });
}
