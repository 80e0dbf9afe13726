import { CorruptRecordError, MemoryStore, type ClaimOptions, type SignatureRecord } from '../src';

const record = (key: string, extra: Partial<SignatureRecord> = {}): SignatureRecord => ({
  key,
  kind: 'task',
  taskName: 't',
  kwargs: {},
  successCallbacks: [],
  errorCallbacks: [],
  status: 'pending',
  creationTime: 0,
  ...extra,
});
const TTL = 3600;
const claim = (begin?: ClaimOptions['begin']): ClaimOptions => ({ maxConcurrency: 10, whenStatus: ['active'], worker: 'w', ttlSec: TTL, ...(begin ? { begin } : {}) });

async function swarmWith(store: MemoryStore, members: string[]) {
  await store.createRecords([record('swarm:s', { kind: 'swarm', status: 'active' })], { ttlSec: TTL, track: true });
  await store.createRecords(members.map((m) => record(m, { parent: 'swarm:s' })), { ttlSec: TTL, track: false });
  await store.swarmAdd('swarm:s', members, { ttlSec: TTL });
}

describe('the memory store hands out copies only', () => {
  it('a record returned by an update, a claim or a finish can be changed without changing what is stored', async () => {
    const store = new MemoryStore();
    await swarmWith(store, ['task:a', 'task:b']);
    const updated = await store.updateRecord('task:a', { set: { kwargs: { n: { deep: [1] } } } });
    if (!updated.ok) throw new Error('not updated');
    (updated.record.kwargs.n as { deep: number[] }).deep.push(2);
    updated.record.successCallbacks.push('task:x');

    const [claimed] = await store.swarmClaim('swarm:s', { ...claim({ runIdPrefix: 'r', set: { message: { value: { m: 1 } } } }), limit: 1 });
    const begun = claimed!.record as SignatureRecord;
    (begun.message!.value as { m: number }).m = 99;
    begun.status = 'failed';

    const result = { list: [1, 2] };
    const end = { expect: { runId: 'r.0' }, set: { status: 'done' as const, result: { value: result } } };
    const finished = await store.swarmFinish('swarm:s', 'task:a', { ok: true, result }, claim(), end);
    result.list.push(3);
    if (finished.ended?.ok) (finished.ended.record.result!.value as { list: number[] }).list.push(4);
    (finished.claimed[0]!.record as SignatureRecord).kwargs.changed = true;

    const stored = (await store.getRecord('task:a'))!;
    expect(stored).toMatchObject({ status: 'done', kwargs: { n: { deep: [1] } }, successCallbacks: [], message: { value: { m: 1 } }, result: { value: { list: [1, 2] } } });
    expect((await store.getRecord('task:b'))!.kwargs).toEqual({});
    const results = await store.swarmResults('swarm:s');
    expect(results).toEqual([{ list: [1, 2] }]);
    (results[0] as { list: number[] }).list.push(5);
    expect(await store.swarmResults('swarm:s')).toEqual([{ list: [1, 2] }]);
    await store.close();
  });

  it('an update that would make the record invalid is refused and changes nothing', async () => {
    const store = new MemoryStore();
    await store.createRecords([record('task:a')], { ttlSec: TTL, track: true });
    await expect(store.updateRecord('task:a', { set: { status: 'bogus' as never, runId: 'r1' } })).rejects.toThrow(/\/status/);
    await expect(store.updateRecord('task:a', { set: { attempt: 0 } })).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(store.updateRecord('task:a', { unset: ['taskName'] })).rejects.toThrow(/taskName/);
    await expect(store.updateRecord('task:a', { set: { key: 'task:b' } })).rejects.toThrow(/names another signature/);
    expect(await store.getRecord('task:a')).toEqual(record('task:a'));
    await store.close();
  });

  it('an update removes fields and keeps fields the schema does not name', async () => {
    const store = new MemoryStore();
    await store.createRecords([record('task:a', { runId: 'r', attempt: 1 })], { ttlSec: TTL, track: true });
    const extra = { note: { deep: 1 } } as Partial<SignatureRecord>;
    await store.updateRecord('task:a', { set: { ...extra, status: 'active' }, unset: ['runId', 'attempt'] });
    const stored = (await store.getRecord('task:a')) as SignatureRecord & { note?: unknown };
    expect(stored).toEqual({ ...record('task:a', { status: 'active' }), note: { deep: 1 } });
    expect('runId' in stored).toBe(false);
    await store.close();
  });

  it('a corrupt value stays corrupt on every read; a valid one put in its place is read as usual', async () => {
    const store = new MemoryStore();
    await store.createRecords([record('task:a')], { ttlSec: TTL, track: true });
    store.corrupt('task:a', { key: 'task:a', kind: 'nonsense' });
    await expect(store.getRecord('task:a')).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(store.updateRecord('task:a', { set: { status: 'active' } })).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(store.getRecord('task:a')).rejects.toBeInstanceOf(CorruptRecordError);
    const replacement = record('task:a', { kwargs: { n: 1 } });
    store.corrupt('task:a', replacement);
    expect(await store.getRecord('task:a')).toEqual(replacement);
    replacement.kwargs.n = 2; // the store keeps its own copy once the value is read as valid
    expect((await store.updateRecord('task:a', { set: { status: 'active' } })).ok).toBe(true);
    expect((await store.getRecord('task:a'))!.kwargs).toEqual({ n: 1 });
    await store.close();
  });
});
