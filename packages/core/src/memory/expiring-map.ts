/**
 * A map whose entries expire, with an index of expiry times so that dropping the
 * expired ones costs O(expired), not O(size): entries are filed in one-second
 * buckets, and a purge empties the buckets that have passed.
 */
export class ExpiringMap<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  private readonly buckets = new Map<number, Set<string>>();
  /** every bucket before this second has been emptied. */
  private purgedUpTo: number;

  constructor(
    private readonly now: () => number,
    /** told of each entry dropped because it expired (not of deletions). */
    private readonly onExpire?: (key: string, value: T) => void,
  ) {
    this.purgedUpTo = Math.floor(now() / 1000);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry, or undefined (an expired one is dropped on the way). */
  entry(key: string): { value: T; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.drop(key, entry.expiresAt);
      this.onExpire?.(key, entry.value);
      return undefined;
    }
    return entry;
  }

  get(key: string): T | undefined {
    return this.entry(key)?.value;
  }

  has(key: string): boolean {
    return this.entry(key) !== undefined;
  }

  set(key: string, value: T, expiresAt: number): void {
    const old = this.entries.get(key);
    if (old) {
      old.value = value;
      this.refile(key, old, expiresAt);
      return;
    }
    this.entries.set(key, { value, expiresAt });
    this.file(key, expiresAt);
  }

  /** Changes the expiry of a live entry; false if there is none. */
  expire(key: string, expiresAt: number): boolean {
    const entry = this.entry(key);
    if (!entry) return false;
    this.refile(key, entry, expiresAt);
    return true;
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.drop(key, entry.expiresAt);
    return true;
  }

  /** Live keys (for inspection; O(size)). */
  *keys(): IterableIterator<string> {
    for (const key of [...this.entries.keys()]) if (this.entry(key)) yield key;
  }

  /** Drops every expired entry; returns how many. */
  purge(): number {
    const now = this.now();
    const upTo = Math.floor(now / 1000); // buckets before this second are wholly past
    let dropped = 0;
    const empty = (second: number) => {
      const keys = this.buckets.get(second);
      if (!keys) return;
      for (const key of keys) {
        const entry = this.entries.get(key)!;
        if (entry.expiresAt > now) continue;
        this.entries.delete(key);
        keys.delete(key);
        this.onExpire?.(key, entry.value);
        dropped++;
      }
      if (keys.size === 0) this.buckets.delete(second);
    };
    // Walk the seconds since the last purge, or the buckets themselves when fewer.
    if (upTo - this.purgedUpTo > this.buckets.size) {
      for (const second of [...this.buckets.keys()]) if (second <= upTo) empty(second);
    } else {
      for (let second = this.purgedUpTo; second <= upTo; second++) empty(second);
    }
    this.purgedUpTo = upTo;
    return dropped;
  }

  private drop(key: string, expiresAt: number): void {
    this.entries.delete(key);
    this.unfile(key, expiresAt);
  }

  /** Moves an entry to the bucket of its new expiry; most moves stay within the same second and cost nothing. */
  private refile(key: string, entry: { expiresAt: number }, expiresAt: number): void {
    const same = Math.floor(entry.expiresAt / 1000) === Math.floor(expiresAt / 1000);
    if (!same) this.unfile(key, entry.expiresAt);
    entry.expiresAt = expiresAt;
    if (!same) this.file(key, expiresAt);
  }

  private file(key: string, expiresAt: number): void {
    const second = Math.floor(expiresAt / 1000);
    let keys = this.buckets.get(second);
    if (!keys) this.buckets.set(second, (keys = new Set()));
    keys.add(key);
  }

  private unfile(key: string, expiresAt: number): void {
    const second = Math.floor(expiresAt / 1000);
    const keys = this.buckets.get(second);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.buckets.delete(second);
  }
}
