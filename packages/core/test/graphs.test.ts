/**
 * Graphs on the embedded defaults: the README's example as written, and the
 * condition language on its own.
 */
import { InvalidGraphError, Mageflow, type ErrorCallbackMessage } from '../src';
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

  it('refuses malformed conditions', () => {
    for (const bad of [null, 'x', {}, { path: 'a' }, { and: [] }, { not: { eq: 1 }, path: 'x' }, { gt: {} }, { in: 3 }, { exists: 'yes' }, { condition: '' }]) {
      expect(() => checkCondition(bad, 'edge 0')).toThrow(InvalidGraphError);
    }
  });
});
