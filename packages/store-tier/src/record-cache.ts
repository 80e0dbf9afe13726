/**
 * The tier's Redis side: a read cache of records, kept coherent with PostgreSQL by
 * a write guard and fill tickets, so that no interleaving of writers, readers,
 * crashes or a Redis that loses its data can leave a stale entry behind.
 *
 * Per record key K, under the prefix P:
 * - `P:c:K`: the cached record (JSON), with a time to live no longer than the
 *   record's own in PostgreSQL and no longer than the cache TTL;
 * - `P:w:K`: the writers in flight on K (hash: writer token -> deadline, Redis
 *   clock, ms). A writer adds itself (and deletes the entry) before its PostgreSQL
 *   step and removes itself after it; while a live writer is listed nothing is filled;
 * - `P:t:K`: the fill tickets (set). A reader that misses takes a ticket before it
 *   reads PostgreSQL, and fills only if its ticket is still there and no writer is
 *   listed. A writer deletes every ticket, so a read that began before a write can
 *   never fill what it read.
 *
 * A writer that dies between its PostgreSQL step and its removal leaves its entry
 * in `P:w:K` until its deadline (the longest a PostgreSQL step it sent can still
 * commit): until then K is not cached, after it every fill reads what committed.
 * A Redis that loses its data loses entries, writers and tickets together: reads
 * miss and fills in flight find no ticket. A write in flight meanwhile lost its guard, so
 * a reader could fill what it read before that write committed: the writer's release
 * drops the entries and tickets again, so that entry lives only until the release.
 */
import type { Redis } from 'ioredis';

/** Lua: the Redis clock in ms, and whether a live writer is listed in `w` (dropping lapsed ones). */
const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function writing(w)
  local fields = redis.call('HGETALL', w)
  local live = false
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) > now then live = true else redis.call('HDEL', w, fields[i]) end
  end
  return live
end
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * Reads entries. KEYS: (entry, writers, tickets) per record; ARGV: ticket, ticket lifetime ms.
 * Returns per record the entry, or 1 (missed, ticket taken: fill after reading PostgreSQL),
 * or 0 (missed while a writer is in flight: do not fill).
 */
const READ = `${PRELUDE}
local out = {}
for i = 1, #KEYS, 3 do
  local v = redis.call('GET', KEYS[i])
  if v then
    out[#out + 1] = v
  elseif writing(KEYS[i + 1]) then
    out[#out + 1] = 0
  else
    redis.call('SADD', KEYS[i + 2], ARGV[1])
    keep(KEYS[i + 2], tonumber(ARGV[2]))
    out[#out + 1] = 1
  end
end
return out
`;

/**
 * Fills entries read from PostgreSQL. KEYS: (entry, writers, tickets) per record;
 * ARGV: ticket, then per record the entry ('' for none) and its time to live in ms.
 * An entry is set only if the ticket is still there and no writer is in flight.
 */
const FILL = `${PRELUDE}
for i = 1, #KEYS / 3 do
  local v, px = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if redis.call('SREM', KEYS[3 * i], ARGV[1]) == 1 and v ~= '' and px > 0 and not writing(KEYS[3 * i - 1]) then
    redis.call('SET', KEYS[3 * i - 2], v, 'PX', px)
  end
end
return 0
`;

/**
 * Before a write: drops the entries and every fill ticket, and lists the writer.
 * KEYS: (entry, writers, tickets) per record; ARGV: writer token, guard ms.
 */
const GUARD = `${PRELUDE}
local ms = tonumber(ARGV[2])
for i = 1, #KEYS, 3 do
  redis.call('DEL', KEYS[i], KEYS[i + 2])
  writing(KEYS[i + 1])
  redis.call('HSET', KEYS[i + 1], ARGV[1], now + ms)
  keep(KEYS[i + 1], ms)
end
return 0
`;

/**
 * After a write: the writer is no longer in flight, and the entries and fill tickets go
 * again. Dropping them twice closes the window a loss of Redis's data opens mid-write (the
 * guard is lost with it, so a reader could fill what it read before the write committed).
 * KEYS: (entry, writers, tickets) per record; ARGV: writer token.
 */
const RELEASE = `
for i = 1, #KEYS, 3 do
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
  redis.call('DEL', KEYS[i], KEYS[i + 2])
end
return 0
`;

type CacheClient = Redis & {
  mfTierRead(n: number, ...args: (string | number)[]): Promise<(string | number)[]>;
  mfTierFill(n: number, ...args: (string | number)[]): Promise<number>;
  mfTierGuard(n: number, ...args: (string | number)[]): Promise<number>;
  mfTierRelease(n: number, ...args: (string | number)[]): Promise<number>;
};

/** What a read found for a key: the cached text, or whether it may be filled with what PostgreSQL holds. */
export type CacheRead = { hit: string } | { fill: boolean };

/** Keys per script call: a getRecords of a whole swarm's members is split into calls this size. */
const BATCH = 1000;

export class RecordCache {
  readonly redis: CacheClient;

  constructor(
    client: Redis,
    readonly prefix: string,
  ) {
    const c = client as CacheClient;
    // defineCommand is idempotent per client; a client shared by two caches keeps one definition
    if (typeof c.mfTierRead !== 'function') {
      c.defineCommand('mfTierRead', { lua: READ });
      c.defineCommand('mfTierFill', { lua: FILL });
      c.defineCommand('mfTierGuard', { lua: GUARD });
      c.defineCommand('mfTierRelease', { lua: RELEASE });
    }
    this.redis = c;
  }

  entryKey(key: string): string {
    return `${this.prefix}:c:${key}`;
  }

  writersKey(key: string): string {
    return `${this.prefix}:w:${key}`;
  }

  ticketsKey(key: string): string {
    return `${this.prefix}:t:${key}`;
  }

  private triples(keys: readonly string[]): string[] {
    const out: string[] = [];
    for (const key of keys) out.push(this.entryKey(key), this.writersKey(key), this.ticketsKey(key));
    return out;
  }

  /** Reads keys, taking `ticket` for each miss that may be filled. */
  async read(keys: readonly string[], ticket: string, ticketMs: number): Promise<CacheRead[]> {
    const out: CacheRead[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      const reply = await this.redis.mfTierRead(batch.length * 3, ...this.triples(batch), ticket, ticketMs);
      for (const v of reply) out.push(typeof v === 'string' ? { hit: v } : { fill: Number(v) === 1 });
    }
    return out;
  }

  /** Fills entries with what PostgreSQL returned (`undefined`: nothing to cache), if `ticket` still holds. */
  async fill(entries: readonly { key: string; value: string | undefined; ttlMs: number }[], ticket: string): Promise<void> {
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const args: (string | number)[] = [ticket];
      for (const e of batch) args.push(e.value ?? '', Math.max(0, Math.floor(e.ttlMs)));
      await this.redis.mfTierFill(batch.length * 3, ...this.triples(batch.map((e) => e.key)), ...args);
    }
  }

  /** Drops the entries of `keys`, cancels fills in flight, and lists `token` as writing them for `guardMs`. */
  async guard(keys: readonly string[], token: string, guardMs: number): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      await this.redis.mfTierGuard(batch.length * 3, ...this.triples(batch), token, guardMs);
    }
  }

  /** `token` no longer writes `keys`. */
  async release(keys: readonly string[], token: string): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      await this.redis.mfTierRelease(batch.length * 3, ...this.triples(batch), token);
    }
  }
}
