/**
 * The memory store's listing index: keys ordered by (creation time, key), so a page
 * newest first is a binary search and a walk back from there, whatever the number of
 * records. Entries of records that are gone are skipped by readers and counted; once
 * they are as many as the live ones the array is compacted, so dropping them costs
 * O(1) each over time.
 */
import type { ListPosition } from '../observability/store-helpers';

export class CreationIndex {
  private entries: ListPosition[] = [];
  private dead = 0;

  constructor(private readonly alive: (key: string) => boolean) {}

  get size(): number {
    return this.entries.length;
  }

  add(key: string, at: number): void {
    const entry = { at, key };
    const last = this.entries[this.entries.length - 1];
    // records are mostly created in time order: an append, not a search
    if (!last || before(last, entry)) this.entries.push(entry);
    else this.entries.splice(this.upperBound(entry), 0, entry);
  }

  /** Told that an entry's record went away (expired or deleted). */
  forget(): void {
    if (++this.dead * 2 > this.entries.length) this.compact();
  }

  /**
   * Walks entries newest first, strictly older than `after` (every entry when absent),
   * while `visit` returns true. Entries whose record is gone are skipped.
   */
  walk(after: ListPosition | undefined, visit: (entry: ListPosition) => boolean): void {
    const start = after ? this.lowerBound(after) - 1 : this.entries.length - 1;
    for (let i = start; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (!this.alive(entry.key)) continue;
      if (!visit(entry)) return;
    }
  }

  private compact(): void {
    this.entries = this.entries.filter((e) => this.alive(e.key));
    this.dead = 0;
  }

  /** First index whose entry is not before `p`. */
  private lowerBound(p: ListPosition): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.entries[mid]!, p)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose entry is after `p`. */
  private upperBound(p: ListPosition): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(p, this.entries[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

function before(a: ListPosition, b: ListPosition): boolean {
  return a.at < b.at || (a.at === b.at && a.key < b.key);
}
