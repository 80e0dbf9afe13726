/**
 * A map whose entries expire, with an index of expiry times so that dropping the
 * expired ones costs O(expired), not O(size): entries are filed in one-second
 * buckets, and a purge empties the buckets that have passed. A bucket is an array
 * in which each entry knows its place, so filing and unfiling cost no hashing.
 */
interface Entry<T> {
  key: string;
  value: T;
  expiresAt: number;
  /** the bucket it is filed in, and its place there. */
  bucket: Entry<T>[];
  slot: number;
}

export class ExpiringMap<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly buckets = new Map<number, Entry<T>[]>();
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
  entry(key: string): { value: T; readonly expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.drop(entry);
      this.onExpire?.(key, entry.value);
      return undefined;
    }
    return entry;
  }

  /** Whether a live entry is held, without dropping an expired one (safe while a purge runs). */
  holds(key: string): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.expiresAt > this.now();
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
      this.refile(old, expiresAt);
      return;
    }
    const bucket = this.bucketOf(expiresAt);
    const entry: Entry<T> = { key, value, expiresAt, bucket, slot: bucket.length };
    bucket.push(entry);
    this.entries.set(key, entry);
  }

  /** Changes the expiry of a live entry; false if there is none. */
  expire(key: string, expiresAt: number): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    if (entry.expiresAt <= this.now()) {
      this.drop(entry);
      this.onExpire?.(key, entry.value);
      return false;
    }
    this.refile(entry, expiresAt);
    return true;
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.drop(entry);
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
      const bucket = this.buckets.get(second);
      if (!bucket) return;
      // From the end: unfiling moves the last entry into the freed place, and that one was seen.
      for (let i = bucket.length - 1; i >= 0; i--) {
        const entry = bucket[i]!;
        if (entry.expiresAt > now) continue;
        this.drop(entry);
        this.onExpire?.(entry.key, entry.value);
        dropped++;
      }
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

  private drop(entry: Entry<T>): void {
    this.entries.delete(entry.key);
    this.unfile(entry);
  }

  /** Moves an entry to the bucket of its new expiry; most moves stay within the same second and cost nothing. */
  private refile(entry: Entry<T>, expiresAt: number): void {
    const same = Math.floor(entry.expiresAt / 1000) === Math.floor(expiresAt / 1000);
    if (!same) this.unfile(entry);
    entry.expiresAt = expiresAt;
    if (!same) this.file(entry);
  }

  private file(entry: Entry<T>): void {
    const bucket = this.bucketOf(entry.expiresAt);
    entry.bucket = bucket;
    entry.slot = bucket.length;
    bucket.push(entry);
  }

  private bucketOf(expiresAt: number): Entry<T>[] {
    const second = Math.floor(expiresAt / 1000);
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = []));
    return bucket;
  }

  private unfile(entry: Entry<T>): void {
    const bucket = entry.bucket;
    const last = bucket.pop()!;
    if (last !== entry) {
      bucket[entry.slot] = last;
      last.slot = entry.slot;
    }
    if (bucket.length === 0) this.buckets.delete(Math.floor(entry.expiresAt / 1000));
  }
}
