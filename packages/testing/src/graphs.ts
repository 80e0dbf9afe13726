/**
 * Graphs and nested signatures: routing on output, default edges, joins, skip
 * propagation, onError paths, containers inside containers with results reaching
 * the top, lifecycle of a nested tree, and `mf.tree()`. Part of the scenario suite.
 */
import { describe, expect, it } from '@jest/globals';
import { InvalidGraphError, Mageflow, TaskCanceledError, TaskFailedError, type ErrorCallbackMessage, type Store, type TaskContext } from '@mageflow/core';
import { delay } from './helpers';
import type { ScenarioContext } from './hardening';

/** A promise the test opens when it wants a held task body to go on. */
class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((r) => (this.open = r));
  release() {
    this.open();
  }
}

export function describeGraphs({ setup, until, env, wait, testTimeout }: ScenarioContext): void {
  const storedKeys = async () => (env().keysWithTtl ? [...(await env().keysWithTtl!()).keys()].sort() : undefined);

  describe('graphs', () => {
    it('routes on output: each side of a branch runs once, when its condition holds; the other is skipped', async () => {
      const { mf, rec, task } = await setup();
      const score = task('score', (input: { n: number }) => ({ score: input.n }));
      const high = task('high', (input: { score: number }) => `high ${input.score}`);
      const low = task('low', (input: { score: number }) => `low ${input.score}`);
      const onDone = task('on-done');
      await mf.start();
      const build = () =>
        mf.graph({
          nodes: { score, high, low },
          edges: [
            { from: 'score', to: 'high', when: { path: 'score', gte: 50 } },
            { from: 'score', to: 'low', when: { path: 'score', lt: 50 } },
          ],
          success: onDone,
        });
      const first = await build();
      expect(await first.run({ n: 80 }, { timeoutMs: wait })).toEqual({ high: 'high 80' });
      const second = await build();
      expect(await second.run({ n: 20 }, { timeoutMs: wait })).toEqual({ low: 'low 20' });
      expect(rec.values('high')).toEqual([{ score: 80 }]);
      expect(rec.values('low')).toEqual([{ score: 20 }]);
      await until(() => rec.count('on-done') === 2, 'both success callbacks');
      expect(rec.values('on-done')).toEqual(expect.arrayContaining([{ high: 'high 80' }, { low: 'low 20' }]));
      const tree = await mf.tree(first.key);
      expect(tree.members!.map((m) => [m.name, m.status])).toEqual([['score', 'done'], ['high', 'done'], ['low', 'skipped']]);
      expect(tree.counts).toMatchObject({ total: 3, done: 2, skipped: 1, failed: 0 });
    }, testTimeout);

    it('takes the default edge when no conditioned edge matched, and a named condition registered in the worker', async () => {
      const { mf, rec, task, t } = await setup();
      const kind = task('kind', (input: { kind: string }) => input);
      const card = task('card', () => 'card');
      const big = task('big', () => 'big');
      const other = task('other', (input: { kind: string }) => `other ${input.kind}`);
      mf.condition(t('is-big'), (output, args) => (output as { amount?: number }).amount! > (args as { over: number }).over);
      await mf.start();
      const build = () =>
        mf.graph({
          nodes: { kind, card, big, other },
          edges: [
            { from: 'kind', to: 'card', when: { path: 'kind', eq: 'card' } },
            { from: 'kind', to: 'big', when: { condition: t('is-big'), args: { over: 1000 } } },
            { from: 'kind', to: 'other', default: true },
          ],
        });
      expect(await (await build()).run({ kind: 'cash', amount: 5 }, { timeoutMs: wait })).toEqual({ other: 'other cash' });
      expect(await (await build()).run({ kind: 'card', amount: 5 }, { timeoutMs: wait })).toEqual({ card: 'card' });
      expect(await (await build()).run({ kind: 'cash', amount: 5000 }, { timeoutMs: wait })).toEqual({ big: 'big' });
      expect([rec.count('card'), rec.count('big'), rec.count('other')]).toEqual([1, 1, 1]);
    }, testTimeout);

    it('a condition the worker does not know fails the graph with UNKNOWN_CONDITION (no silent skip)', async () => {
      const { mf, rec, task, t } = await setup();
      const a = task('a');
      const b = task('b');
      const onErr = task('on-err');
      await mf.start();
      const graph = await mf.graph({ nodes: { a, b }, edges: [{ from: 'a', to: 'b', when: { condition: t('nowhere') } }], error: onErr });
      await expect(graph.run({}, { timeoutMs: wait })).rejects.toBeInstanceOf(TaskFailedError);
      await until(() => rec.count('on-err') === 1, 'the error callback');
      expect((rec.values('on-err')[0] as ErrorCallbackMessage).error).toMatchObject({ code: 'UNKNOWN_CONDITION' });
      expect(rec.count('b')).toBe(0);
    }, testTimeout);

    it('a join of two branches with one skipped runs once, with the outputs of the taken parents by name', async () => {
      const { mf, rec, task } = await setup();
      const start = task('start', (input: { left: boolean }) => input);
      const left = task('left', () => 'L');
      const right = task('right', () => 'R');
      const join = task('join', (input: unknown) => input);
      await mf.start();
      const graph = await mf.graph({
        nodes: { start, left, right, join },
        edges: [
          { from: 'start', to: 'left', when: { path: 'left', eq: true } },
          { from: 'start', to: 'right', when: { path: 'left', eq: false } },
          { from: 'left', to: 'join' },
          { from: 'right', to: 'join' },
        ],
      });
      expect(await graph.run({ left: true }, { timeoutMs: wait })).toEqual({ join: { left: 'L' } });
      expect(rec.values('join')).toEqual([{ left: 'L' }]);
      expect(rec.count('right')).toBe(0);
    }, testTimeout);

    it('skipping propagates: a branch not taken is skipped to its end, and the graph still ends', async () => {
      const { mf, rec, task } = await setup();
      const start = task('start', () => ({ go: false }));
      const b = task('b');
      const c = task('c');
      const d = task('d');
      const e = task('e', () => 'e');
      await mf.start();
      const graph = await mf.graph({
        nodes: { start, b, c, d, e },
        edges: [
          { from: 'start', to: 'b', when: { path: 'go', eq: true } },
          { from: 'b', to: 'c' },
          { from: 'c', to: 'd' },
          { from: 'start', to: 'e' },
        ],
      });
      expect(await graph.run({}, { timeoutMs: wait })).toEqual({ e: 'e' });
      expect([rec.count('b'), rec.count('c'), rec.count('d')]).toEqual([0, 0, 0]);
      const tree = await mf.tree(graph.key);
      expect(tree.members!.filter((m) => m.status === 'skipped').map((m) => m.name)).toEqual(['b', 'c', 'd']);
    }, testTimeout);

    it('an onError edge handles a failure: its target gets the error and the graph succeeds; without one the graph fails', async () => {
      const { mf, rec, task } = await setup();
      const charge = task('charge', () => {
        throw new Error('card declined');
      });
      const refund = task('refund', (input: ErrorCallbackMessage) => `handled: ${input.error.message}`);
      const ship = task('ship');
      const onErr = task('on-err');
      await mf.start();
      const handled = await mf.graph({
        nodes: { charge, ship, refund },
        edges: [
          { from: 'charge', to: 'ship' },
          { from: 'charge', to: 'refund', onError: true },
        ],
      });
      expect(await handled.run({ order: 7 }, { timeoutMs: wait })).toEqual({ refund: 'handled: card declined' });
      const message = rec.values('refund')[0] as ErrorCallbackMessage;
      expect(message).toMatchObject({ error: { message: 'card declined' }, input: { order: 7 }, key: handled.nodes.charge });
      expect(rec.count('ship')).toBe(0);

      const unhandled = await mf.graph({ nodes: { charge, ship }, edges: [{ from: 'charge', to: 'ship' }], error: onErr });
      await expect(unhandled.run({}, { timeoutMs: wait })).rejects.toThrow(/card declined/);
      await until(() => rec.count('on-err') === 1, 'the graph error callback');
      expect(rec.count('ship')).toBe(0);
    }, testTimeout);

    it('a graph inside a swarm inside a chain: inner results reach the top, callbacks fire at each level once', async () => {
      const { mf, rec, task } = await setup();
      const prep = task('prep', (n: number) => ({ n }));
      const double = task('double', (input: { n: number }) => input.n * 2);
      const plus = task('plus', (input: { n: number }) => input.n + 1);
      const sum = task('sum', (input: { double: number; plus: number }) => input.double + input.plus);
      const echo = task('echo', (input: { n: number }) => input.n);
      const total = task('total', (results: unknown[]) => results);
      const onGraph = task('on-graph');
      const onSwarm = task('on-swarm');
      const onChain = task('on-chain');
      await mf.start();
      const graph = await mf.graph({
        nodes: { double, plus, sum },
        edges: [
          { from: 'double', to: 'sum' },
          { from: 'plus', to: 'sum' },
        ],
        success: onGraph,
      });
      const swarm = await mf.swarm([graph, echo], { success: onSwarm });
      await swarm.close();
      const chain = await mf.chain([prep, swarm, total], { success: onChain });
      expect(await chain.run(5, { timeoutMs: wait })).toEqual([{ sum: 16 }, 5]);
      await until(() => rec.count('on-chain') === 1 && rec.count('on-swarm') === 1 && rec.count('on-graph') === 1, 'every level\'s callback');
      expect(rec.values('on-graph')).toEqual([{ sum: 16 }]);
      expect(rec.values('sum')).toEqual([{ double: 10, plus: 6 }]);
      const tree = await mf.tree(chain.key);
      expect(tree.members!.map((m) => [m.kind, m.status])).toEqual([['task', 'done'], ['swarm', 'done'], ['task', 'done']]);
      expect(tree.members![1]!.members![0]).toMatchObject({ kind: 'graph', status: 'done', counts: { total: 3, done: 3 } });
      expect(tree.toMermaid()).toMatch(/^flowchart TD/);
    }, testTimeout);

    it('a graph and a chain as nodes of a graph: the join gets their results by name', async () => {
      const { mf, rec, task } = await setup();
      const prep = task('prep', (n: number) => n);
      const x = task('x', (n: number) => n * 10);
      const y = task('y', (n: number) => n + 1);
      const a = task('a', (n: number) => n + 100);
      const b = task('b', (n: number) => n * 2);
      const fin = task('fin', (input: unknown) => input);
      const onInner = task('on-inner');
      await mf.start();
      const inner = await mf.graph({ nodes: { x, y }, edges: [{ from: 'x', to: 'y' }], success: onInner });
      const steps = await mf.chain([a, b]);
      const outer = await mf.graph({
        nodes: { prep, inner, steps, fin },
        edges: [
          { from: 'prep', to: 'inner' },
          { from: 'prep', to: 'steps' },
          { from: 'inner', to: 'fin' },
          { from: 'steps', to: 'fin' },
        ],
      });
      expect(await outer.run(1, { timeoutMs: wait })).toEqual({ fin: { inner: { y: 11 }, steps: 202 } });
      await until(() => rec.count('on-inner') === 1, 'the inner graph\'s callback');
      expect(rec.values('on-inner')).toEqual([{ y: 11 }]);
      const tree = await mf.tree(outer.key);
      expect(tree.members!.map((m) => [m.name, m.kind, m.status])).toEqual([
        ['prep', 'task', 'done'], ['inner', 'graph', 'done'], ['steps', 'chain', 'done'], ['fin', 'task', 'done'],
      ]);
      expect(tree.members![1]!.members!.map((m) => m.name)).toEqual(['x', 'y']);
    }, testTimeout);

    it('interrupting a graph stops its running nodes; resume runs them again and goes on', async () => {
      const { mf, rec, task } = await setup();
      let attempts = 0;
      // the first attempt waits until it is interrupted (the helper hands tasks their context)
      const slow = task('slow', async (_input: unknown, ctx?: TaskContext) => {
        attempts += 1;
        if (attempts === 1) await new Promise((_, reject) => ctx!.signal.addEventListener('abort', () => reject(ctx!.signal.reason)));
        return 'slow';
      });
      const next = task('next', (input: unknown) => input);
      await mf.start();
      const graph = await mf.graph({ nodes: { slow, next }, edges: [{ from: 'slow', to: 'next' }] });
      await graph.runNoWait({});
      await until(() => rec.count('slow') === 1, 'the first node to start');
      await graph.interrupt();
      expect(await mf.load(graph.key).then((g) => g?.status)).toBe('interrupted');
      await delay(200);
      expect(rec.count('next')).toBe(0);
      await graph.resume();
      expect(await graph.wait({ timeoutMs: wait })).toEqual({ next: 'slow' });
      expect([rec.count('slow'), rec.count('next')]).toEqual([2, 1]);
    }, testTimeout);

    it('suspend of a nested tree mid-run holds every branch; resume continues each where it stopped, once', async () => {
      const { mf, rec, task } = await setup();
      const gate = new Gate();
      const slow = task('slow', async () => (await gate.opened, 'slow'));
      const after = task('after', (input: unknown) => input);
      const fast = task('fast', () => 'fast');
      const last = task('last', (input: unknown) => input);
      await mf.start();
      const graph = await mf.graph({ nodes: { slow, after, fast }, edges: [{ from: 'slow', to: 'after' }] });
      const chain = await mf.chain([graph, last]);
      await chain.runNoWait({});
      await until(() => rec.count('slow') === 1 && rec.count('fast') === 1, 'both entry nodes to start');
      await chain.suspend();
      expect(await mf.load(graph.key).then((g) => g?.status)).toBe('suspended');
      gate.release();
      await delay(300);
      expect(rec.count('after')).toBe(0); // ready, held while its graph is suspended
      await chain.resume();
      expect(await chain.wait({ timeoutMs: wait })).toEqual({ after: 'slow', fast: 'fast' });
      expect([rec.count('slow'), rec.count('after'), rec.count('fast'), rec.count('last')]).toEqual([1, 1, 1, 1]);
    }, testTimeout);

    it('cancel of a nested tree ends it without a hang and runs the cleanup of every level once', async () => {
      const { mf, rec, task } = await setup();
      const gate = new Gate();
      const slow = task('slow', async () => (await gate.opened, 'slow'));
      const after = task('after');
      const cleanGraph = task('clean-graph');
      const cleanSwarm = task('clean-swarm');
      const cleanChain = task('clean-chain');
      const last = task('last');
      await mf.start();
      const graph = await mf.graph({ nodes: { slow, after }, edges: [{ from: 'slow', to: 'after' }], cleanup: cleanGraph });
      const swarm = await mf.swarm([graph], { cleanup: cleanSwarm });
      await swarm.close();
      const chain = await mf.chain([swarm, last], { cleanup: cleanChain });
      await chain.runNoWait({});
      await until(() => rec.count('slow') === 1, 'the inner node to start');
      await chain.cancel({ confirm: true });
      await expect(chain.wait({ timeoutMs: wait })).rejects.toBeInstanceOf(TaskCanceledError);
      await until(() => rec.count('clean-graph') === 1 && rec.count('clean-swarm') === 1 && rec.count('clean-chain') === 1, 'the cleanup of every level');
      gate.release();
      await delay(200);
      expect([rec.count('after'), rec.count('last')]).toEqual([0, 0]);
      expect(await mf.load(graph.key)).toBeNull();
    }, testTimeout);

    it('run() within the deletion window reruns a graph from its entry, routing on the new outputs', async () => {
      const { mf, rec, task } = await setup();
      const pick = task('pick', (n: number) => ({ n }));
      const even = task('even', () => 'even');
      const odd = task('odd', () => 'odd');
      const onOk = task('on-ok');
      await mf.start();
      const graph = await mf.graph({
        nodes: { pick, even, odd },
        edges: [
          { from: 'pick', to: 'even', when: { path: 'n', in: [0, 2, 4] } },
          { from: 'pick', to: 'odd', default: true },
        ],
        success: onOk,
      });
      expect(await graph.run(2, { timeoutMs: wait })).toEqual({ even: 'even' });
      await until(() => rec.count('on-ok') === 1, 'the first success callback');
      await graph.remove();
      expect(await graph.run(3, { timeoutMs: wait })).toEqual({ odd: 'odd' });
      await until(() => rec.count('on-ok') === 2, 'the second success callback');
      expect([rec.count('pick'), rec.count('even'), rec.count('odd')]).toEqual([2, 1, 1]);
      expect(await graph.counts()).toMatchObject({ total: 2, done: 2, queued: 0, running: 0 });
    }, testTimeout);

    it('refuses a bad shape with InvalidGraphError before anything is stored', async () => {
      const { mf, task } = await setup();
      const a = task('a');
      const b = task('b');
      const c = task('c');
      const before = await storedKeys();
      const refused = async (options: Parameters<Mageflow['graph']>[0], pattern: RegExp) => {
        const error = await mf.graph(options).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidGraphError);
        expect((error as Error).message).toMatch(pattern);
      };
      await refused({ nodes: { a, b }, edges: [{ from: 'a', to: 'x' }] }, /unknown node "x"/);
      await refused({ nodes: { a, b, c }, edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'b' }] }, /cycle: b -> c -> b/);
      await refused({ nodes: { a, b, c }, edges: [{ from: 'a', to: 'b' }], entry: 'a' }, /"c" cannot be reached/);
      await refused({ nodes: { a, b, c }, edges: [{ from: 'a', to: 'b', default: true }, { from: 'a', to: 'c', default: true }] }, /two default edges/);
      await refused({ nodes: { a, b }, edges: [{ from: 'a', to: 'b', when: { path: 'x', near: 1 } as never }] }, /unknown condition field "near"/);
      expect(await storedKeys()).toEqual(before);
    }, testTimeout);

    it('draws a graph as a Mermaid flowchart', async () => {
      const { mf, task } = await setup();
      const a = task('a');
      const b = task('b');
      const c = task('c');
      const graph = await mf.graph({
        nodes: { a, b, c },
        edges: [
          { from: 'a', to: 'b', when: { path: 'score', gte: 50 } },
          { from: 'a', to: 'c', default: true },
          { from: 'b', to: 'c', onError: true },
        ],
      });
      expect(graph.toMermaid()).toBe(
        ['flowchart TD', '  a["a"]', '  b["b"]', '  c["c"]', '  a -->|"score >= 50"| b', '  a -.->|"default"| c', '  b -.->|"on error"| c'].join('\n'),
      );
    }, testTimeout);

    it('tree() of a 10,000-member swarm inside a chain returns one page without reading every member', async () => {
      const { mf, task } = await setup();
      const work = task('work');
      const last = task('last');
      const swarm = await mf.swarm([], { config: { maxConcurrency: 5 } });
      await swarm.addTasks(Array.from({ length: 10_000 }, (_, i) => ({ task: work, kwargs: { i } })), { batchSize: 2000 });
      await swarm.close();
      const chain = await mf.chain([swarm, last]);
      let readRecords = 0;
      let fullMemberLists = 0;
      const spy = new Proxy(env().store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (property === 'getRecords') readRecords += (args[0] as string[]).length;
            if (property === 'getRecord') readRecords += 1;
            if (property === 'swarmMembers' && args[1] === undefined) fullMemberLists += 1;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      }) as Store;
      const reader = new Mageflow({ store: spy, engine: env().engine(), config: { sweepEveryMs: false } });
      const started = Date.now();
      const tree = await reader.tree(chain.key, { pageSize: 50 });
      const took = Date.now() - started;
      const inner = tree.members![0]!;
      expect(inner).toMatchObject({ kind: 'swarm', counts: { total: 10_000, queued: 10_000, done: 0 }, cursor: '50' });
      expect(inner.members).toHaveLength(50);
      expect(fullMemberLists).toBe(0);
      expect(readRecords).toBeLessThan(200);
      const next = await reader.tree(swarm.key, { pageSize: 50, cursor: inner.cursor });
      expect(next.members!.map((m) => m.key)).toEqual(await env().store.swarmMembers(swarm.key, { offset: 50, limit: 50 }));
      console.log(`tree() of a 10,000-member swarm in a chain: ${took} ms, ${readRecords} records read`);
      await chain.cancel({ confirm: true });
    }, testTimeout * 2);

    it('a failed graph: nodes it never reached live the done TTL and show as skipped; a skipped node takes its cleanup along', async () => {
      const { mf, task } = await setup({ ttl: { doneTtl: 120 } });
      const boom = task('boom', () => {
        throw new Error('fails');
      });
      const ok = task('ok');
      const tidy = task('tidy');
      const hold = task('hold', () => new Promise((resolve) => setTimeout(resolve, 300)));
      await mf.start();
      const never = await mf.sign(ok, { cleanup: tidy });
      const graph = await mf.graph({
        nodes: { r: ok, a: boom, b: hold, c: never },
        edges: [{ from: 'r', to: 'a' }, { from: 'r', to: 'b' }, { from: 'b', to: 'c', when: { eq: 'never' } }],
        maxConcurrency: 1,
      });
      await expect(graph.run({}, { timeoutMs: wait })).rejects.toMatchObject({ code: 'TASK_FAILED' });
      await until(async () => (await mf.tree(graph.key)).members?.find((m) => m.name === 'c')?.status === 'skipped', 'c shown as skipped');
      if (env().recordTtl) {
        await until(async () => ((await env().recordTtl!(never.key)) ?? Infinity) <= 120, 'the unreached node on the done TTL');
        await until(async () => ((await env().recordTtl!(never.cleanupCallbacks[0]!)) ?? Infinity) <= 120, "its cleanup on the done TTL");
      }
    }, testTimeout);

    it('remove() then resume() of a running container continues it, without a sweep', async () => {
      const { mf, rec, task } = await setup();
      const step = task('step', () => new Promise((resolve) => setTimeout(() => resolve(1), 100)));
      await mf.start();
      const chain = await mf.chain([step, step, step]);
      const graph = await mf.graph({ nodes: { x: step, y: step }, edges: [{ from: 'x', to: 'y' }] });
      const swarm = await mf.swarm([step, step, step], { config: { maxConcurrency: 1 } });
      await swarm.close();
      for (const sig of [chain, graph, swarm]) await sig.runNoWait({});
      await until(() => rec.count('step') >= 3, 'a first step of each');
      for (const sig of [chain, graph, swarm]) await sig.remove();
      await new Promise((resolve) => setTimeout(resolve, 250)); // the running steps end while removed
      for (const sig of [chain, graph, swarm]) await sig.resume();
      for (const sig of [chain, graph, swarm]) await sig.wait({ timeoutMs: wait });
      expect(rec.count('step')).toBe(3 + 2 + 3);
    }, testTimeout);
  });
}
