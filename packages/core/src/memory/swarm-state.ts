/**
 * What the memory store keeps for one swarm: its members in the order added, its
 * queue, its slots, its counts and its members' results. Each member gets a
 * position when first added, and its state is kept by position in arrays, so a
 * member's life costs one hash lookup (at its end) instead of one per change.
 */
import type { SwarmCounts } from '../ports/store';

/** A member's flags, by position. */
const QUEUED = 1;
const FINISHED = 2;
const SUCCEEDED = 4;

export class SwarmState {
  /** every member ever added, in the order added (a member added twice is listed twice). */
  readonly members: string[] = [];
  /** members holding a slot, with the worker that holds it (at most maxConcurrency). */
  readonly running = new Map<string, string>();
  done = 0;
  failed = 0;
  closed = false;

  /** each distinct member's position, and by position: its key, flags and result. */
  private readonly positions = new Map<string, number>();
  private readonly keys: string[] = [];
  private flags: number[] = [];
  private results: unknown[] = [];
  /** positions in the order queued; those no longer QUEUED are skipped when reached. */
  private queue: number[] = [];
  private head = 0;
  private queued = 0;
  /** members counted at their end that were never added (counted once, all the same). */
  private readonly finishedStrangers = new Set<string>();
  /** members queued without being listed in `members` (a graph's nodes that became ready). */
  private unlisted = 0;
  /** a graph's progress (see `Store.graphSettle`); dropped by `reset`. */
  graph: GraphProgress | undefined;

  /** `listed`: false for members queued but not listed (a graph's ready nodes: a rerun does not queue them again). */
  add(members: readonly string[], listed = true): void {
    if (!listed) this.unlisted += members.length;
    for (const member of members) {
      let position = this.positions.get(member);
      if (position === undefined) {
        position = this.keys.length;
        this.positions.set(member, position);
        this.keys.push(member);
        this.flags.push(0);
      }
      if (listed) this.members.push(member);
      this.queue.push(position);
      if (!(this.flags[position]! & QUEUED)) {
        this.flags[position]! |= QUEUED;
        this.queued += 1;
      }
    }
  }

  /** Takes the next queued member out of the queue, or undefined when none is left. */
  takeQueued(): string | undefined {
    while (this.head < this.queue.length) {
      const position = this.queue[this.head++]!;
      if (!(this.flags[position]! & QUEUED)) continue; // left the queue while waiting (canceled)
      this.flags[position]! &= ~QUEUED;
      this.queued -= 1;
      this.compactQueue();
      return this.keys[position];
    }
    this.compactQueue();
    return undefined;
  }

  /**
   * Counts a member's end once: frees its slot or, for a member that ends while
   * queued (canceled), takes it out of the queue so it never takes a slot. False
   * when it was counted before. `result`: called for a success, for the result to keep.
   */
  finish(member: string, ok: boolean, result: () => unknown): boolean {
    const position = this.positions.get(member);
    if (position === undefined) {
      if (this.finishedStrangers.has(member)) return false;
      this.finishedStrangers.add(member);
      this.running.delete(member);
    } else {
      const flags = this.flags[position]!;
      if (flags & FINISHED) return false;
      let next = flags | FINISHED;
      if (!this.running.delete(member) && flags & QUEUED) {
        next &= ~QUEUED;
        this.queued -= 1;
      }
      if (ok) {
        next |= SUCCEEDED;
        this.results[position] = result();
      }
      this.flags[position] = next;
    }
    if (ok) this.done += 1;
    else this.failed += 1;
    return true;
  }

  /** Every member back in the queue in the order added; slots, counts and results cleared. */
  reset(): void {
    // only the listed members (a graph's nodes queued as they became ready are not)
    this.flags = this.keys.map(() => 0);
    this.queue = this.members.map((member) => this.positions.get(member)!);
    for (const position of this.queue) this.flags[position] = QUEUED;
    this.queued = this.flags.filter((f) => f === QUEUED).length;
    this.head = 0;
    this.results = [];
    this.running.clear();
    this.finishedStrangers.clear();
    this.unlisted = 0;
    this.graph = undefined;
    this.done = 0;
    this.failed = 0;
  }

  /** Takes every queued member out of the queue; returns them in queue order. */
  drainQueue(): string[] {
    const drained: string[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const position = this.queue[i]!;
      if (this.flags[position]! & QUEUED) drained.push(this.keys[position]!);
    }
    for (const member of drained) this.flags[this.positions.get(member)!]! &= ~QUEUED;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    return drained;
  }

  /** A member's result, if it succeeded. */
  resultOf(member: string): { value: unknown } | undefined {
    const position = this.positions.get(member);
    return position !== undefined && this.flags[position]! & SUCCEEDED ? { value: this.results[position] } : undefined;
  }

  /** Results of the members that succeeded, in the order added. */
  successfulResults(): unknown[] {
    const out: unknown[] = [];
    for (const member of this.members) {
      const position = this.positions.get(member)!;
      if (this.flags[position]! & SUCCEEDED) out.push(this.results[position]);
    }
    return out;
  }

  counts(): SwarmCounts {
    return { total: this.members.length + this.unlisted, queued: this.queued, running: this.running.size, done: this.done, failed: this.failed, closed: this.closed };
  }

  /** A queue read far from its start is cut, so it does not hold every member ever queued. */
  private compactQueue(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/** What a graph records besides its swarm state: settled nodes, settled edges, and the counts of incoming edges. */
export class GraphProgress {
  readonly nodes = new Map<string, { outcome: 'done' | 'failed' | 'skipped'; taken: boolean }>();
  readonly edges = new Map<number, 'taken' | 'skipped'>();
  /** per target: incoming edges settled, and taken. */
  readonly incoming = new Map<string, { settled: number; taken: number }>();
  readonly skipPending = new Set<string>();
}
