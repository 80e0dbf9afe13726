/** The graph shape checks on their own: what is refused, and what a large shape costs. */
import { InvalidGraphError } from '../src';
import { checkGraphShape } from '../src/model/graph-shape';

describe('graph shapes', () => {
  it('finds a cycle and names it', () => {
    expect(() => checkGraphShape(['a', 'b', 'c'], [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'b' }])).toThrow(/cycle: b -> c -> b/);
    expect(() => checkGraphShape(['a'], [{ from: 'a', to: 'a' }])).toThrow(/cycle: a -> a/);
  });

  it('accepts a diamond, and gives the entries', () => {
    const shape = checkGraphShape(['a', 'b', 'c', 'd'], [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'd' }, { from: 'c', to: 'd' }]);
    expect(shape.entries).toEqual([0]);
    expect(shape.edges).toEqual([{ from: 0, to: 1 }, { from: 0, to: 2 }, { from: 1, to: 3 }, { from: 2, to: 3 }]);
  });

  it('refuses bad names, an entry with incoming edges, and a node the entry cannot reach', () => {
    expect(() => checkGraphShape(['a b'], [])).toThrow(InvalidGraphError);
    expect(() => checkGraphShape([], [])).toThrow(/at least one node/);
    expect(() => checkGraphShape(['a', 'b'], [{ from: 'a', to: 'b' }], ['b'])).toThrow(/entry node "b" has incoming edges/);
    expect(() => checkGraphShape(['a', 'b', 'c'], [{ from: 'a', to: 'c' }], ['a'])).toThrow(/"b" cannot be reached/);
    expect(() => checkGraphShape(['a', 'b'], [{ from: 'a', to: 'b', default: true, onError: true }])).toThrow(/exclude each other/);
  });

  it('checks a line of 50,000 nodes without overflowing the stack', () => {
    const names = Array.from({ length: 50_000 }, (_, i) => `n${i}`);
    const edges = names.slice(1).map((to, i) => ({ from: names[i]!, to }));
    expect(checkGraphShape(names, edges).entries).toEqual([0]);
    expect(() => checkGraphShape(names, [...edges, { from: 'n49999', to: 'n0' }])).toThrow(/cycle/);
  });
});
