/**
 * The Mageflow Store as a tier of Redis over PostgreSQL.
 *
 * PostgreSQL is the store: every record, every step two workers can race on (a
 * conditional update, a swarm's claim and count, a graph's settlement, a lock, a
 * lease), the timelines, logs, listings and the change feed. Redis is a read cache
 * of the records of live work (see record-cache.ts for how it stays coherent): a
 * record read first looks in Redis, a miss reads PostgreSQL and fills the entry, a
 * write to a record drops its entry first. Finished records are never cached.
 *
 * So Redis losing its data loses nothing (reads miss until they fill again), and
 * the class stays a thin composition: each Store method is either a PostgreSQL call
 * or a PostgreSQL call wrapped in the cache's guard.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import {
  CorruptRecordError,
  InvalidArgumentError,
  isFinished,
  MageflowError,
  parseRecord,
  StoreUnavailableError,
  type RecordUpdate,
  type SignatureRecord,
  type Store,
  redactUrl,
} from '@mageflow/core';
import { decodeRecord, PostgresStore, type PostgresStoreOptions } from '@mageflow/store-postgres';
import { RecordCache } from './record-cache';

export interface TierStoreOptions {
  /** the PostgreSQL store (its options, or a store you made; a store you hand over is not closed by close()). */
  postgres?: PostgresStoreOptions | PostgresStore;
  /** the Redis cache. */
  redis?: {
    /** a redis:// or rediss:// URL; ignored when `client` is given. Default redis://127.0.0.1:6379. */
    url?: string;
    /** your own ioredis client (not closed by close()). */
    client?: Redis;
    /** options for the client made from `url` (TLS, ACL, ...). */
    redisOptions?: RedisOptions;
    /** every key starts with this. Letters, digits, `.`, `_` and `-`. Default: `mageflow-tier-` + the PostgreSQL schema. */
    prefix?: string;
    /** how long one Redis call may take, in ms. Default 2000. */
    commandTimeoutMs?: number;
  };
  /** the longest a record stays cached, in ms (never longer than it lives in PostgreSQL). Default 300000. */
  cacheTtlMs?: number;
  /**
   * How long a write keeps its records out of the cache if it never says it ended (its
   * process died mid-step), in ms: at least the longest a PostgreSQL step can still commit
   * after it was sent (the pool's connection wait plus its statement timeout). Default 60000.
   */
  writeGuardMs?: number;
}

/** What the cache did, since the store was made (for measuring and tests). */
export interface TierStats {
  /** record reads answered by Redis. */
  hits: number;
  /** record reads that went to PostgreSQL. */
  misses: number;
  /** record reads that went to PostgreSQL because Redis failed. */
  redisReadErrors: number;
}

export class TierStore implements Store {
  readonly postgres: PostgresStore;
  readonly cache: RecordCache;
  readonly namespace: string;
  readonly stats: TierStats = { hits: 0, misses: 0, redisReadErrors: 0 };
  private readonly ownsPostgres: boolean;
  private readonly ownsRedis: boolean;
  private readonly cacheTtlMs: number;
  private readonly guardMs: number;
  private readonly where: string;
  /** releases and fills sent without waiting (their outcome changes no answer); awaited by close(). */
  private readonly background = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: TierStoreOptions = {}) {
    const cacheTtlMs = options.cacheTtlMs ?? 300_000;
    if (!Number.isInteger(cacheTtlMs) || cacheTtlMs <= 0) throw new InvalidArgumentError(`cacheTtlMs must be a positive whole number of ms, got ${String(cacheTtlMs)}`);
    const guardMs = options.writeGuardMs ?? 60_000;
    if (!Number.isInteger(guardMs) || guardMs <= 0) throw new InvalidArgumentError(`writeGuardMs must be a positive whole number of ms, got ${String(guardMs)}`);
    const r = options.redis ?? {};
    const timeout = r.commandTimeoutMs ?? 2000;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError(`redis.commandTimeoutMs must be a positive number of ms, got ${String(timeout)}`);
    const given = options.postgres instanceof PostgresStore ? options.postgres : undefined;
    this.postgres = given ?? new PostgresStore(options.postgres as PostgresStoreOptions | undefined);
    const prefix = r.prefix ?? `mageflow-tier-${this.postgres.schema}`;
    if (typeof prefix !== 'string' || !/^[\w.-]{1,100}$/.test(prefix)) {
      if (!given) void this.postgres.close();
      throw new InvalidArgumentError(`Redis key prefix ${JSON.stringify(prefix)} must be 1 to 100 letters, digits, '.', '_' or '-'`);
    }
    this.ownsPostgres = !given;
    this.ownsRedis = !r.client;
    this.namespace = this.postgres.namespace;
    this.cacheTtlMs = cacheTtlMs;
    this.guardMs = guardMs;
    const url = r.url ?? 'redis://127.0.0.1:6379';
    this.where = r.client ? 'the Redis client handed to TierStore' : redactUrl(url, 'Redis');
    // A command in flight when the connection drops is not sent again: a guard sent
    // twice is harmless, but the step then fails (the write was not sent) rather than wait.
    const client =
      r.client ??
      new Redis(url, { maxRetriesPerRequest: 1, enableAutoPipelining: false, autoResendUnfulfilledCommands: false, commandTimeout: timeout, ...r.redisOptions });
    client.on('error', () => undefined); // met by the calls themselves (reads fall through, writes fail)
    this.cache = new RecordCache(client, prefix);
  }

  // --- records: cached reads ---------------------------------------------------------

  async getRecord(key: string): Promise<SignatureRecord | null> {
    return (await this.getRecords([key]))[0]!;
  }

  async getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]> {
    if (keys.length === 0) return [];
    this.open();
    const ticket = token();
    let found: ({ hit: string } | { fill: boolean })[];
    try {
      found = await this.cache.read(keys, ticket, this.guardMs);
    } catch {
      // Redis down: PostgreSQL answers alone, nothing is filled
      this.stats.redisReadErrors += keys.length;
      found = keys.map(() => ({ fill: false }));
    }
    const out: (SignatureRecord | null | undefined)[] = new Array(keys.length);
    const missed: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const f = found[i]!;
      const hit = 'hit' in f ? cachedRecord(f.hit, keys[i]!) : undefined;
      if (hit) {
        out[i] = hit;
        this.stats.hits++;
      } else {
        missed.push(i);
      }
    }
    if (missed.length === 0) return out as SignatureRecord[];
    this.stats.misses += missed.length;
    const started = Date.now();
    const rows = await this.loadRows(missed.map((i) => keys[i]!));
    const fills: { key: string; value: string | undefined; ttlMs: number }[] = [];
    let firstCorrupt: CorruptRecordError | undefined;
    for (const i of missed) {
      const key = keys[i]!;
      const row = rows.get(key);
      let record: SignatureRecord | null = null;
      if (row) {
        try {
          record = decodeRecord(row.body, key);
        } catch (error) {
          if (!(error instanceof CorruptRecordError)) throw error;
          firstCorrupt ??= error;
        }
      }
      out[i] = record;
      const f = found[i]!;
      if ('fill' in f && f.fill) {
        // the entry lives no longer than the row: its time left, less what passed since the query began
        const ttlMs = Math.min(this.cacheTtlMs, (row?.ms ?? 0) - (Date.now() - started));
        fills.push({ key, value: record && cacheable(record) ? JSON.stringify(record) : undefined, ttlMs });
      }
    }
    if (fills.length > 0) this.inBackground(this.cache.fill(fills, ticket));
    if (firstCorrupt) throw firstCorrupt;
    return out as (SignatureRecord | null)[];
  }

  // --- records: writes guarded against stale fills ---------------------------------------

  // Records are created under keys no live record has: no entry or fill can exist for them
  // (an entry never outlives its row, and a fill never caches a missing record).
  createRecords(...a: Parameters<Store['createRecords']>) {
    return this.postgres.createRecords(...a);
  }

  updateRecord(key: string, update: RecordUpdate) {
    return this.guarded([key], () => this.postgres.updateRecord(key, update));
  }

  deleteRecords(keys: readonly string[], options?: { lockHolder?: string }) {
    return this.guarded(keys, () => this.postgres.deleteRecords(keys, options));
  }

  expireRecords(keys: readonly string[], ttlSec: number) {
    return this.guarded(keys, () => this.postgres.expireRecords(keys, ttlSec));
  }

  // A claim (swarmClaim, or the claim inside swarmFinish and graphSettle) begins records
  // it found untouched (cacheable() never caches those), so it needs no guard; a
  // member's end does.
  swarmFinish(...a: Parameters<Store['swarmFinish']>) {
    const [, member, , , end] = a;
    return end ? this.guarded([member], () => this.postgres.swarmFinish(...a)) : this.postgres.swarmFinish(...a);
  }

  swarmSetPriority(...a: Parameters<Store['swarmSetPriority']>) {
    return this.guarded([a[1]], () => this.postgres.swarmSetPriority(...a));
  }

  // --- everything else: PostgreSQL's --------------------------------------------------

  listOpen(...a: Parameters<Store['listOpen']>) { return this.postgres.listOpen(...a); }
  swarmAdd(...a: Parameters<Store['swarmAdd']>) { return this.postgres.swarmAdd(...a); }
  swarmClaim(...a: Parameters<Store['swarmClaim']>) { return this.postgres.swarmClaim(...a); }
  swarmClose(...a: Parameters<Store['swarmClose']>) { return this.postgres.swarmClose(...a); }
  swarmCounts(...a: Parameters<Store['swarmCounts']>) { return this.postgres.swarmCounts(...a); }
  swarmRunning(...a: Parameters<Store['swarmRunning']>) { return this.postgres.swarmRunning(...a); }
  swarmReassign(...a: Parameters<Store['swarmReassign']>) { return this.postgres.swarmReassign(...a); }
  swarmReset(...a: Parameters<Store['swarmReset']>) { return this.postgres.swarmReset(...a); }
  swarmDrainQueue(...a: Parameters<Store['swarmDrainQueue']>) { return this.postgres.swarmDrainQueue(...a); }
  swarmMembers(...a: Parameters<Store['swarmMembers']>) { return this.postgres.swarmMembers(...a); }
  swarmResults(...a: Parameters<Store['swarmResults']>) { return this.postgres.swarmResults(...a); }
  graphSettle(...a: Parameters<Store['graphSettle']>) { return this.postgres.graphSettle(...a); }
  graphState(...a: Parameters<Store['graphState']>) { return this.postgres.graphState(...a); }
  lock(...a: Parameters<Store['lock']>) { return this.postgres.lock(...a); }
  unlock(...a: Parameters<Store['unlock']>) { return this.postgres.unlock(...a); }
  heartbeat(...a: Parameters<Store['heartbeat']>) { return this.postgres.heartbeat(...a); }
  liveWorkers(...a: Parameters<Store['liveWorkers']>) { return this.postgres.liveWorkers(...a); }
  audit(...a: Parameters<Store['audit']>) { return this.postgres.audit(...a); }
  auditLog(...a: Parameters<Store['auditLog']>) { return this.postgres.auditLog(...a); }
  recordTtl(...a: Parameters<Store['recordTtl']>) { return this.postgres.recordTtl(...a); }
  timeline(...a: Parameters<Store['timeline']>) { return this.postgres.timeline(...a); }
  appendLogs(...a: Parameters<Store['appendLogs']>) { return this.postgres.appendLogs(...a); }
  readLogs(...a: Parameters<Store['readLogs']>) { return this.postgres.readLogs(...a); }
  listRecords(...a: Parameters<Store['listRecords']>) { return this.postgres.listRecords(...a); }
  countRecords(...a: Parameters<Store['countRecords']>) { return this.postgres.countRecords(...a); }
  subscribe(...a: Parameters<Store['subscribe']>) { return this.postgres.subscribe(...a); }

  /** Applies the PostgreSQL schema's missing migrations now (the store also does it on first use). */
  migrate(): Promise<void> {
    return this.postgres.migrate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.background]);
    if (this.ownsPostgres) await this.postgres.close();
    if (this.ownsRedis) this.cache.redis.disconnect();
  }

  // --- internals -----------------------------------------------------------------------

  /**
   * Runs a PostgreSQL step that changes `keys`' records inside the cache's guard: their
   * entries are dropped and fills held off before it is sent, and released after it
   * answered. If Redis cannot take the guard the step is not sent (a write that Redis
   * did not see could leave a stale entry behind once Redis is back): it fails with
   * StoreUnavailableError, and nothing was written. A step that fails for want of an
   * answer keeps its guard to its deadline, since it may still commit.
   */
  private async guarded<T>(keys: readonly string[], step: () => Promise<T>): Promise<T> {
    if (keys.length === 0) return step();
    this.open();
    const writer = token();
    try {
      await this.cache.guard(keys, writer, this.guardMs);
    } catch (error) {
      throw new StoreUnavailableError(`Redis at ${this.where} is unavailable, so the write to "${keys[0]}" was not sent: ${(error as Error).message}`, { cause: error, details: { url: this.where } });
    }
    let answered = false;
    try {
      const result = await step();
      answered = true;
      return result;
    } catch (error) {
      answered = error instanceof MageflowError && !(error instanceof StoreUnavailableError);
      throw error;
    } finally {
      if (answered) this.inBackground(this.cache.release(keys, writer));
    }
  }

  /** Record rows with their time left in ms, read as the PostgreSQL store reads them. */
  private async loadRows(keys: readonly string[]): Promise<Map<string, { body: unknown; ms: number }>> {
    await this.postgres.migrate();
    let rows: { key: string; body: unknown; ms: string }[];
    try {
      rows = (
        await this.postgres.pool.query({
          name: `mf-tier:${this.postgres.schema}:get`,
          text: `SELECT key, body, floor(extract(epoch FROM expires_at - now()) * 1000)::bigint AS ms FROM "${this.postgres.schema}".record WHERE key = ANY ($1) AND expires_at > now()`,
          values: [keys],
        })
      ).rows;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      const message = error instanceof Error ? error.message : String(error);
      if (code.startsWith('22')) throw new CorruptRecordError(`a value stored in PostgreSQL for "${keys[0]}" is unreadable (${message})`, { cause: error, details: { key: keys[0] } });
      throw new StoreUnavailableError(`PostgreSQL (schema ${this.postgres.schema}) is unavailable: ${message}`, { cause: error, details: { schema: this.postgres.schema } });
    }
    return new Map(rows.map((r) => [r.key, { body: r.body, ms: Number(r.ms) }]));
  }

  private open(): void {
    if (this.closed) throw new StoreUnavailableError(`the tier store (schema ${this.postgres.schema}) is closed`);
  }

  private inBackground(work: Promise<unknown>): void {
    const p = work.catch(() => undefined); // a lost release or fill only costs misses until its deadline
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }
}

/**
 * Whether a record may be cached: live work only (a finished or deleted-to-be record is
 * read rarely and leaves Redis), and never a task no run has touched yet, since a swarm's
 * claim begins such records without naming them beforehand.
 */
function cacheable(record: SignatureRecord): boolean {
  if (isFinished(record.status) || record.status === 'marked_for_deletion') return false;
  return !(record.kind === 'task' && record.status === 'pending' && record.runId === undefined && record.dispatchedAt === undefined);
}

/** A cached entry as a record; undefined when it does not read as one (then PostgreSQL is asked). */
function cachedRecord(text: string, key: string): SignatureRecord | undefined {
  try {
    const record = parseRecord(JSON.parse(text), key);
    return record.key === key ? record : undefined;
  } catch {
    return undefined;
  }
}

function token(): string {
  return randomBytes(9).toString('base64url');
}

