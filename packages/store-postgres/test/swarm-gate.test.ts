/**
 * The store's per-swarm gate (our own logic, no server): at most `limit` steps of one
 * swarm in flight, in order, other swarms never held up, a failed step frees its place.
 */
import { InvalidArgumentError } from '@mageflow/core';
import { PostgresStore } from '../src';
import { SwarmGate } from '../src/swarm-gate';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SwarmGate', () => {
  it('lets at most `limit` steps of one swarm run at once, in the order they came, and never holds up another swarm', async () => {
    const gate = new SwarmGate(2);
    const running = new Map<string, number>();
    let most = 0;
    const started: string[] = [];
    const releases: (() => void)[] = [];
    const step = (swarm: string, name: string) =>
      gate.run(swarm, async () => {
        started.push(name);
        running.set(swarm, (running.get(swarm) ?? 0) + 1);
        most = Math.max(most, running.get(swarm)!);
        await new Promise<void>((resolve) => releases.push(resolve));
        running.set(swarm, running.get(swarm)! - 1);
        return name;
      });
    const a = ['a1', 'a2', 'a3', 'a4'].map((n) => step('swarm:a', n));
    const b = step('swarm:b', 'b1');
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1']); // a3 and a4 wait; b is not held up by a
    releases.shift()!();
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    while (releases.length > 0) {
      releases.shift()!();
      await tick();
    }
    expect(await Promise.all([...a, b])).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
    expect(most).toBe(2);
  });

  it('a step that fails frees its place for the next', async () => {
    const gate = new SwarmGate(1);
    await expect(gate.run('s', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run('s', async () => 'next')).toBe('next');
  });

  it('swarmStepsInFlight must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new PostgresStore({ swarmStepsInFlight: bad })).toThrow(InvalidArgumentError);
  });
});
