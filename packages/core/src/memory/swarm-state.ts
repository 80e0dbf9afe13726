/**
 * What the memory store keeps for one swarm: its members in the order added, its
 * queue (one per priority), its slots, its counts and its members' results. Each
 * member gets a position when first added, and its state is kept by position in
 * arrays, so a member's life costs one hash lookup (at its end) instead of one per
 * change.
 */
import { priorityRank, type Priority } from '../model/priority';
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
  /** each position's priority rank (0 high, 1 medium, 2 low). */
  private ranks: number[] = [];
  /**
   * By rank: positions in the order claims take them (the order added). An entry whose
   * position is no longer QUEUED, or now has another rank, is skipped when reached.
   */
  private queues: PositionQueue[] = [new PositionQueue(), new PositionQueue(), new PositionQueue()];
  private queued = 0;
  /** members counted at their end that were never added (counted once, all the same). */
  private readonly finishedStrangers = new Set<string>();
  /** members queued without being listed in `members` (a graph's nodes that became ready). */
  private unlisted = 0;
  /** a graph's progress (see `Store.graphSettle`); dropped by `reset`. */
  graph: GraphProgress | undefined;

  /**
   * `priorities[i]`: members[i]'s (undefined: medium). A member added again keeps its first priority.
   * `listed`: false for members queued but not listed (a graph's ready nodes: a rerun does not queue them again).
   */
  add(members: readonly string[], priorities?: readonly (Priority | undefined)[], listed = true): void {
    if (!listed) this.unlisted += members.length;
    members.forEach((member, i) => {
      let position = this.positions.get(member);
      if (position === undefined) {
        position = this.keys.length;
        this.positions.set(member, position);
        this.keys.push(member);
        this.flags.push(0);
        this.ranks.push(priorityRank(priorities?.[i]));
      }
      if (listed) this.members.push(member);
      if (!(this.flags[position]! & QUEUED)) {
        this.queues[this.ranks[position]!]!.push(position);
        this.flags[position]! |= QUEUED;
        this.queued += 1;
      }
    });
  }

  /** Takes the next queued member out of the queue, or undefined when none is left. */
  takeQueued(): string | undefined {
    for (let rank = 0; rank < this.queues.length; rank++) {
      const queue = this.queues[rank]!;
      for (let position = queue.take(); position !== undefined; position = queue.take()) {
        // left the queue while waiting (canceled), or moved to another priority
        if (!(this.flags[position]! & QUEUED) || this.ranks[position] !== rank) continue;
        this.flags[position]! &= ~QUEUED;
        this.queued -= 1;
        return this.keys[position];
      }
    }
    return undefined;
  }

  /** Moves a queued member to another priority, at its place by order added. False when it is not queued. */
  setPriority(member: string, priority: Priority): boolean {
    const position = this.positions.get(member);
    if (position === undefined || !(this.flags[position]! & QUEUED)) return false;
    const rank = priorityRank(priority);
    if (this.ranks[position] !== rank) {
      this.ranks[position] = rank;
      this.queues[rank]!.insertInOrder(position); // the entry under its old rank is skipped when reached
    }
    return true;
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

  /** Every member back in the queue at its priority, in the order added; slots, counts and results cleared. */
  reset(): void {
    // only the listed members (a graph's nodes queued as they became ready are not)
    const listed = new Set(this.members.map((member) => this.positions.get(member)!));
    this.flags = this.keys.map((_, position) => (listed.has(position) ? QUEUED : 0));
    this.queued = listed.size;
    this.queues = this.queues.map(() => new PositionQueue());
    for (let position = 0; position < this.keys.length; position++) if (listed.has(position)) this.queues[this.ranks[position]!]!.push(position);
    this.results = [];
    this.running.clear();
    this.finishedStrangers.clear();
    this.unlisted = 0;
    this.graph = undefined;
    this.done = 0;
    this.failed = 0;
  }

  /** Takes every queued member out of the queue; returns them in the order claims would have. */
  drainQueue(): string[] {
    const drained: string[] = [];
    for (let member = this.takeQueued(); member !== undefined; member = this.takeQueued()) drained.push(member);
    return drained;
  }

  /** A member's result, if it succeeded. */
  resultOf(member: string): { value: unknown } | undefined {
    const position = this.positions.get(member);
    return position !== undefined && this.flags[position]! & SUCCEEDED ? { value: this.results[position] } : undefined;
  }

  /** Results of the members that succeeded, in the order added. */
  /** Results of the members that succeeded, in the order added; `from`, `to`: only those listed at these positions (to excluded). */
  successfulResults(from = 0, to = this.members.length): unknown[] {
    const out: unknown[] = [];
    for (const member of this.members.slice(from, to)) {
      const position = this.positions.get(member)!;
      if (this.flags[position]! & SUCCEEDED) out.push(this.results[position]);
    }
    return out;
  }

  counts(): SwarmCounts {
    return { total: this.members.length + this.unlisted, queued: this.queued, running: this.running.size, done: this.done, failed: this.failed, closed: this.closed };
  }
}

/** Positions waiting in one priority's queue, in claim order, read from a moving head. */
class PositionQueue {
  private items: number[] = [];
  private head = 0;

  push(position: number): void {
    this.items.push(position);
  }

  take(): number | undefined {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return undefined;
    }
    const position = this.items[this.head++]!;
    // a queue read far from its start is cut, so it does not hold every position ever queued
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return position;
  }

  /** Inserts a position among the waiting ones by order added (positions grow with it). */
  insertInOrder(position: number): void {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.items[mid]! < position) low = mid + 1;
      else high = mid;
    }
    this.items.splice(low, 0, position);
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
