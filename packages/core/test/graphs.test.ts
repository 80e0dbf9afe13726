/**
 * Graphs on the embedded defaults: the README's example as written, and the
 * condition language on its own.
 */
import { InvalidGraphError, Mageflow, MemoryStore, type ErrorCallbackMessage } from '../src';
import { checkCondition, evaluateCondition, type Condition } from '../src/runtime/condition';

describe('the README graph example', () => {
  it('runs as written, and draws its shape and its status', async () => {
    const mf = new Mageflow();
    const score = mf.task('score', async ({ amount }: { amount: number }) => ({ amount, risk: amount > 1000 ? 0.9 : 0.1 }));
    const review = mf.task('review', async (scored: { amount: number }) => `reviewed ${scored.amount}`);
    const approve = mf.task('approve', async (scored: { amount: number }) => `approved ${scored.amount}`);
    const charge = mf.task('charge', async (decision: Record<string, string>) => {
      if (decision.review) throw new Error('needs a manual charge');
      return { charged: decision.approve };
    });
    const refund = mf.task('refund', async ({ error }: ErrorCallbackMessage) => `refunded: ${error.message}`);
    mf.condition('vip', (scored) => (scored as { amount: number }).amount === 4242);

    const build = () =>
      mf.graph({
        nodes: { score, review, approve, charge, refund },
        edges: [
          { from: 'score', to: 'review', when: { path: 'risk', gte: 0.5 } },
          { from: 'score', to: 'approve', when: { or: [{ path: 'risk', lt: 0.5 }, { condition: 'vip' }] } },
          { from: 'review', to: 'charge' },
          { from: 'approve', to: 'charge' },
          { from: 'charge', to: 'refund', onError: true },
        ],
      });
    const payment = await build();
    expect(await payment.run({ amount: 30 })).toEqual({ charge: { charged: 'approved 30' } });
    expect(await (await build()).run({ amount: 5000 })).toEqual({ refund: 'refunded: needs a manual charge' });
    expect(payment.toMermaid()).toBe(
      [
        'flowchart TD',
        '  score["score"]',
        '  review["review"]',
        '  approve["approve"]',
        '  charge["charge"]',
        '  refund["refund"]',
        '  score -->|"risk >= 0.5"| review',
        '  score -->|"risk < 0.5 or vip"| approve',
        '  review --> charge',
        '  approve --> charge',
        '  charge -.->|"on error"| refund',
      ].join('\n'),
    );
    const tree = await mf.tree(payment.key);
    expect(tree.members!.map((m) => [m.name, m.status])).toEqual([
      ['score', 'done'], ['review', 'skipped'], ['approve', 'done'], ['charge', 'done'], ['refund', 'skipped'],
    ]);
    expect(tree.counts).toEqual({ total: 5, waiting: 0, queued: 0, running: 0, done: 3, failed: 0, skipped: 2 });
    expect(tree.toMermaid()).toContain('n2["review<br/>task · skipped"]:::skipped');
    await mf.stop();
  });
});

describe('conditions', () => {
  const holds = (condition: Condition, output: unknown, named = new Map()) => evaluateCondition(condition, output, named);

  it('compares the value at a path', async () => {
    const order = { total: 30, tags: ['vip'], customer: { country: 'FR' } };
    expect(await holds({ path: 'total', gt: 10, lte: 30 }, order)).toBe(true);
    expect(await holds({ path: 'total', lt: 30 }, order)).toBe(false);
    expect(await holds({ path: 'customer.country', in: ['FR', 'DE'] }, order)).toBe(true);
    expect(await holds({ path: 'tags.0', eq: 'vip' }, order)).toBe(true);
    expect(await holds({ path: 'tags', eq: ['vip'] }, order)).toBe(true);
    expect(await holds({ path: 'customer.zip', exists: false }, order)).toBe(true);
    expect(await holds({ path: 'total', gt: '10' }, order)).toBe(false); // a number is not compared with a string
    expect(await holds({ eq: 3 }, 3)).toBe(true);
    expect(await holds({ and: [{ path: 'total', ne: 0 }, { not: { path: 'tags.0', eq: 'new' } }] }, order)).toBe(true);
  });

  it('calls named conditions with the output and args; a missing one is UNKNOWN_CONDITION', async () => {
    const named = new Map([['over', (output: unknown, args: unknown) => (output as number) > (args as number)]]);
    expect(await holds({ condition: 'over', args: 2 }, 3, named)).toBe(true);
    await expect(holds({ condition: 'nowhere' }, 3)).rejects.toMatchObject({ code: 'UNKNOWN_CONDITION' });
  });

  it('reads only own fields and list positions on a path, and compares data whatever its field order', async () => {
    expect(await holds({ path: 'tags.constructor', exists: true }, { tags: {} })).toBe(false);
    expect(await holds({ path: 'tags.hasOwnProperty', exists: true }, { tags: {} })).toBe(false);
    expect(await holds({ path: 'list.push', exists: true }, { list: [] })).toBe(false);
    expect(await holds({ path: 'list.length', exists: true }, { list: [1] })).toBe(false);
    expect(await holds({ path: 'list.1', eq: 'b' }, { list: ['a', 'b'] })).toBe(true);
    expect(await holds({ path: 'a', eq: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } })).toBe(true);
    expect(await holds({ path: 'a', in: [{ x: 1, y: [1, { z: 2 }] }] }, { a: { y: [1, { z: 2 }], x: 1 } })).toBe(true);
    expect(await holds({ path: 'a', ne: { x: 1 } }, { a: { x: 1, y: undefined } })).toBe(true);
  });

  it('a named condition that answers anything but true or false fails with a typed error', async () => {
    const named = new Map([['loose', () => 1 as unknown as boolean]]);
    await expect(holds({ condition: 'loose' }, 3, named)).rejects.toMatchObject({ code: 'INVALID_GRAPH', message: expect.stringContaining('loose') });
  });

  it('refuses operands and args that are not JSON data, before anything is stored', async () => {
    for (const bad of [{ eq: () => 1 }, { eq: undefined }, { eq: new Map([[1, 2]]) }, { ne: 1n }, { in: [Symbol('s')] }, { eq: new Date() }, { eq: Number.NaN }, { condition: 'c', args: new Date() }]) {
      expect(() => checkCondition(bad, 'edge 0')).toThrow(InvalidGraphError);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => checkCondition({ eq: cyclic }, 'edge 0')).toThrow(InvalidGraphError);
    const store = new MemoryStore();
    const mf = new Mageflow({ store });
    const a = mf.task('a', () => 1);
    const b = mf.task('b', () => 2);
    await expect(mf.graph({ nodes: { a, b }, edges: [{ from: 'a', to: 'b', when: { eq: new Map() } }], success: b, cleanup: b })).rejects.toBeInstanceOf(InvalidGraphError);
    expect(store.size().records).toBe(0);
  });

  it('refuses malformed conditions', () => {
    for (const bad of [null, 'x', {}, { path: 'a' }, { and: [] }, { not: { eq: 1 }, path: 'x' }, { gt: {} }, { in: 3 }, { exists: 'yes' }, { condition: '' }]) {
      expect(() => checkCondition(bad, 'edge 0')).toThrow(InvalidGraphError);
    }
  });
});

describe('graph hardening', () => {
  it('one signature cannot be both a node and a callback of its graph (or chain)', async () => {
    const store = new MemoryStore();
    const mf = new Mageflow({ store, config: { sweepEveryMs: false } });
    const a = mf.task('a', () => 1);
    const sig = await mf.sign(a);
    await expect(mf.graph({ nodes: { first: a, second: sig }, edges: [{ from: 'first', to: 'second' }], success: sig })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(mf.chain([a, sig], { error: sig })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(store.size().records).toBe(1);
    await mf.stop();
  });

  it('draws node names Mermaid would read as syntax under ids of their own', async () => {
    const mf = new Mageflow({ config: { sweepEveryMs: false } });
    const a = mf.task('a', () => 1);
    const graph = await mf.graph({ nodes: { start: a, end: a, 'a---b': a }, edges: [{ from: 'start', to: 'end' }, { from: 'start', to: 'a---b' }] });
    const lines = graph.toMermaid().split('\n');
    expect(lines).toContain('  n1["end"]');
    expect(lines).toContain('  n2["a---b"]');
    expect(lines).toContain('  start --> n1');
    await expect(mf.tree(graph.key, { pagesize: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('pagesize') });
    await mf.stop();
  });
});
