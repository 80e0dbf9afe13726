/**
 * The Mageflow Store on Redis (6.2 or newer, no modules), through ioredis.
 *
 * Each step two workers can race on is one Lua script (see `lua/`). One swarm
 * member's life costs a constant number of round trips whatever the swarm's size:
 * no step reads or rewrites a list of all members, except the swarm's final read
 * of its results.
 */
import { Redis, type RedisOptions } from 'ioredis';
import {
  CorruptRecordError,
  DEFAULT_PRIORITY,
  EXPECTABLE_FIELDS,
  InvalidArgumentError,
  MageflowError,
  parseRecord,
  priorityRank,
  StoreUnavailableError,
  checkLogEntry,
  checkMemberPage,
  decodeCursor,
  emptyStatusCounts,
  encodeCursor,
  filterLogs,
  listLimits,
  LOG_CAP,
  type AuditEntry,
  type FeedSubscription,
  type ListPage,
  type ListQuery,
  type LogEntry,
  type LogQuery,
  type StatusCounts,
  type StoreEvent,
  type TimelineEntry,
  type Claimed,
  type ClaimOptions,
  type CreateOptions,
  type FinishResult,
  type GraphSettleResult,
  type GraphSettleStep,
  type GraphState,
  type MemberPage,
  type Priority,
  type RecordUpdate,
  type SignatureRecord,
  type SlotHolder,
  type Store,
  type SwarmAddOptions,
  type SwarmAddResult,
  type SwarmCounts,
  type UpdateResult,
  redactUrl,
} from '@mageflow/core';
import { KeySpace } from './keys';
import { withScripts, type Scripts } from './scripts';

export interface RedisStoreOptions {
  /** a redis:// or rediss:// URL; ignored when `client` is given. Default redis://127.0.0.1:6379. */
  url?: string;
  /** your own ioredis client (standalone; TLS, ACL and other options are yours). Not closed by close(). */
  client?: Redis;
  /** options for the client made from `url` (TLS, username/password, timeouts...). */
  redisOptions?: RedisOptions;
  /** every key starts with this, so several apps or tests share one Redis. Letters, digits, `.`, `_` and `-` only. Default "mageflow". */
  prefix?: string;
  /**
   * How long one Redis call may take before it fails with `StoreUnavailableError`
   * (a frozen or overloaded Redis must not hang a worker), in ms. Default 10000.
   * Ignored when you hand over your own `client` (set its `commandTimeout`).
   */
  commandTimeoutMs?: number;
}

type Client = Redis & Scripts;

export class RedisStore implements Store {
  readonly keys: KeySpace;
  readonly redis: Client;
  readonly namespace: string;
  private readonly ownsClient: boolean;

  constructor(options: RedisStoreOptions = {}) {
    const prefix = options.prefix ?? 'mageflow';
    // No ':' in a prefix: with it, prefixes could nest ("app" and "app:rec:x" share keys).
    if (typeof prefix !== 'string' || !/^[\w.-]{1,100}$/.test(prefix)) {
      throw new InvalidArgumentError(`Redis key prefix ${JSON.stringify(prefix)} must be 1 to 100 letters, digits, '.', '_' or '-'`);
    }
    const timeout = options.commandTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError(`commandTimeoutMs must be a positive number of ms, got ${String(timeout)}`);
    this.keys = new KeySpace(prefix);
    this.namespace = prefix;
    this.ownsClient = !options.client;
    // Commands in flight when a connection drops are not sent again: a script whose
    // reply was lost may have run, and running it twice could apply it twice. The
    // step fails with StoreUnavailableError instead, and the runtime's sweep repairs.
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const client =
      options.client ??
      new Redis(url, {
        maxRetriesPerRequest: 3,
        // Every step is one script, sent as soon as it is called: auto-pipelining would hold
        // each one for a tick to batch it with others, and measured slower (swarm-10000 in
        // 1.8 s without it, 3.0 s with it; concurrent calls share the socket either way).
        enableAutoPipelining: false,
        autoResendUnfulfilledCommands: false,
        commandTimeout: timeout,
        ...options.redisOptions,
      });
    this.where = options.client ? 'the Redis client handed to RedisStore' : redactUrl(url, 'Redis');
    // Connection errors surface as StoreUnavailableError on the calls that meet them;
    // without a listener ioredis would print "Unhandled error event" on every retry.
    client.on('error', (error: Error) => (this.lastConnectionError = error));
    this.redis = withScripts(client);
  }

  /** the server, for error messages (no password). */
  private readonly where: string;
  private lastConnectionError: Error | undefined;

  // --- the change feed: steps publish only while someone subscribes ------------------

  /** whether the feed channel has subscribers, as last seen (see `feedChannel`). */
  private feedHeard = false;
  private feedWatch: NodeJS.Timeout | undefined;
  private readonly subscriptions = new Set<Redis>();

  /**
   * The channel to publish status changes on, or '' while nobody listens. Whether anyone
   * does is asked once a second (`PUBSUB NUMSUB`), not on every step: a subscriber in
   * another process hears changes from at most a second after it subscribed.
   */
  private feedChannel(): string {
    if (!this.feedWatch) {
      const ask = () =>
        this.redis
          .pubsub('NUMSUB', this.keys.feed())
          .then((reply) => (this.feedHeard = Number((reply as unknown[])[1]) > 0 || this.subscriptions.size > 0))
          .catch(() => undefined);
      this.feedWatch = setInterval(ask, FEED_POLL_MS);
      this.feedWatch.unref();
      void ask();
    }
    return this.feedHeard || this.subscriptions.size > 0 ? this.keys.feed() : '';
  }

  // --- records -------------------------------------------------------------------

  async createRecords(records: readonly SignatureRecord[], options: CreateOptions): Promise<void> {
    if (records.length === 0) return;
    const payload = records.map((r) => ({
      key: r.key, fields: encodeFields(r), at: String(r.creationTime), root: r.parent === undefined, ...(r.kind === 'task' ? {} : { state: this.keys.swarm(r.key).state }),
    }));
    try {
      await this.call(() =>
        this.redis.mfCreateRecords(
          records.length + 1, this.keys.open(), ...records.map((r) => this.keys.record(r.key)), options.ttlSec, options.track ? '1' : '0', JSON.stringify(payload), this.keys.lock(''),
          this.keys.index(), this.keys.rootIndex(), Date.now(), this.feedChannel(), this.keys.record(''), this.keys.indexSweep(),
        ),
      );
    } catch (error) {
      if (error instanceof StoreUnavailableError && /EXISTS (\S+)/.test(String(error.cause))) {
        throw new InvalidArgumentError(`a signature "${/EXISTS (\S+)/.exec(String(error.cause))![1]}" already exists`);
      }
      throw error;
    }
  }

  async getRecord(key: string): Promise<SignatureRecord | null> {
    const hash = await this.call(() => this.redis.hgetall(this.keys.record(key)), key);
    return decodeRecord(hash, key);
  }

  async getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(this.keys.record(key));
    const replies = (await this.call(() => pipeline.exec())) ?? [];
    return replies.map(([error, hash], i) => {
      if (error) throw this.translate(error, keys[i]);
      return decodeRecord(hash as Record<string, string>, keys[i]!);
    });
  }

  async updateRecord(key: string, update: RecordUpdate): Promise<UpdateResult> {
    const swarmKeys = this.keys.swarmKeys(key);
    const reply = (await this.call(
      () =>
        this.redis.mfUpdateRecord(
          4 + swarmKeys.length, this.keys.record(key), this.keys.lock(key), this.keys.open(), this.keys.log(key), ...swarmKeys,
          ...updateArgs(key, update), Date.now(), this.feedChannel(),
        ),
      key,
    )) as string[];
    return updateResult(reply, key);
  }

  async deleteRecords(keys: readonly string[], options: { lockHolder?: string } = {}) {
    if (keys.length === 0) return { ok: true as const };
    const redisKeys: string[] = [this.keys.open()];
    const plan = keys.map((key) => {
      redisKeys.push(this.keys.lock(key));
      const lock = redisKeys.length;
      const owned = this.keys.owned(key);
      redisKeys.push(...owned);
      return { key, lock, first: lock + 1, last: lock + owned.length };
    });
    const [tag, ...locked] = (await this.call(() => this.redis.mfDeleteRecords(redisKeys.length, ...redisKeys, options.lockHolder ?? '', JSON.stringify(plan)))) as string[];
    return tag === 'ok' ? { ok: true as const } : { ok: false as const, locked };
  }

  async expireRecords(keys: readonly string[], ttlSec: number): Promise<void> {
    if (keys.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const key of keys) for (const k of this.keys.owned(key)) pipeline.expire(k, Math.max(1, Math.ceil(ttlSec)));
    await this.call(() => pipeline.exec());
  }

  async listOpen(cursor: string | undefined, limit: number) {
    const [next, ...keys] = (await this.call(() => this.redis.mfListOpen(1, this.keys.open(), cursor ?? '0', limit, this.keys.record('')))) as string[];
    return next === '0' ? { keys } : { keys, cursor: next };
  }

  // --- swarms ----------------------------------------------------------------------

  async swarmAdd(swarm: string, members: readonly string[], options: SwarmAddOptions): Promise<SwarmAddResult> {
    const s = this.keys.swarm(swarm);
    const ranks = options.priorities?.some((p) => p !== undefined && p !== DEFAULT_PRIORITY) ? JSON.stringify(members.map((_, i) => priorityRank(options.priorities![i]))) : '';
    const reply = (await this.call(() =>
      this.redis.mfSwarmAdd(5, this.keys.record(swarm), s.state, s.queue, s.members, s.results, options.maxTaskAllowed ?? '', options.ttlSec, JSON.stringify(members), ranks),
    swarmSide(swarm))) as [string, ...number[]];
    const counts = toCounts(reply.slice(1) as number[]);
    if (reply[0] === 'ok') return { ok: true, counts };
    return { ok: false, reason: reply[0] as 'closed' | 'too_many', counts };
  }

  /** The claim's arguments (see lua/claim.lua's claimOptions). */
  private claimArgs(options: ClaimOptions): (string | number)[] {
    const begin = options.begin
      ? JSON.stringify({
          run: JSON.stringify(options.begin.runIdPrefix), worker: JSON.stringify(options.worker), set: encodeFields(options.begin.set),
          at: String(Date.now()), feed: this.feedChannel(),
        })
      : '';
    return [
      options.maxConcurrency, encodeStatuses(options.whenStatus), options.worker, options.limit ?? '', options.stopAfterFailures ?? '',
      this.keys.record(''), this.keys.lock(''), begin,
    ];
  }

  async swarmClaim(swarm: string, options: ClaimOptions): Promise<Claimed[]> {
    const s = this.keys.swarm(swarm);
    const reply = await this.call(() => this.redis.mfSwarmClaim(2, s.state, s.queue, ...this.claimArgs(options)), swarmSide(swarm));
    return (reply as HandedOver[]).map(claimedOf);
  }

  async swarmFinish(
    swarm: string,
    member: string,
    outcome: { ok: true; result: unknown } | { ok: false },
    claim: ClaimOptions,
    end?: RecordUpdate,
  ): Promise<FinishResult> {
    const s = this.keys.swarm(swarm);
    const swarmKeys = [s.state, s.queue, s.results];
    const finishArgs = [outcome.ok ? '1' : '0', outcome.ok ? JSON.stringify(outcome.result ?? null) : '', ...this.claimArgs(claim)];
    if (!end) {
      const reply = (await this.call(() => this.redis.mfSwarmFinish(3, ...swarmKeys, member, ...finishArgs), swarmSide(swarm))) as FinishReply;
      return finishResult(reply);
    }
    // the member's end and its count, in one script: the count happens only if the end applied
    const memberKeys = [this.keys.record(member), this.keys.lock(member), this.keys.open(), this.keys.log(member), ...this.keys.swarmKeys(member)];
    const [endReply, finishReply] = (await this.call(
      () =>
        this.redis.mfSwarmEnd(
          memberKeys.length + swarmKeys.length, ...memberKeys, ...swarmKeys, ...updateArgs(member, end), Date.now(), this.feedChannel(), ...finishArgs,
        ),
      swarmSide(swarm),
    )) as [string[], FinishReply];
    const ended = updateResult(endReply, member);
    if (!ended.ok) return { counted: false, counts: toCounts(finishReply as number[]), claimed: [], ended };
    return { ...finishResult(finishReply), ended };
  }

  async swarmClose(swarm: string): Promise<SwarmCounts> {
    return this.counts(swarm, true);
  }

  async swarmCounts(swarm: string): Promise<SwarmCounts> {
    return this.counts(swarm, false);
  }

  async swarmRunning(swarm: string): Promise<SlotHolder[]> {
    const state = await this.call(() => this.redis.hgetall(this.keys.swarm(swarm).state), swarmSide(swarm));
    return Object.entries(state)
      .filter(([field]) => field.startsWith(SLOT))
      .map(([field, worker]) => ({ member: field.slice(SLOT.length), worker }));
  }

  async swarmReassign(swarm: string, member: string, from: string, to: string): Promise<boolean> {
    return (await this.call(() => this.redis.mfSwarmReassign(1, this.keys.swarm(swarm).state, member, from, to), swarmSide(swarm))) === 1;
  }

  async swarmSetPriority(swarm: string, member: string, priority: Priority): Promise<boolean> {
    const s = this.keys.swarm(swarm);
    const moved = await this.call(
      () => this.redis.mfSwarmSetPriority(3, s.state, s.queue, this.keys.record(member), member, priorityRank(priority), JSON.stringify(priority)),
      swarmSide(swarm),
    );
    return moved === 1;
  }

  async swarmReset(swarm: string): Promise<void> {
    const s = this.keys.swarm(swarm);
    await this.call(() => this.redis.mfSwarmReset(4, s.state, s.queue, s.members, s.results), swarmSide(swarm));
  }

  async swarmDrainQueue(swarm: string): Promise<string[]> {
    const s = this.keys.swarm(swarm);
    return (await this.call(() => this.redis.mfSwarmDrain(2, s.state, s.queue), swarmSide(swarm))) as string[];
  }

  async swarmMembers(swarm: string, page?: MemberPage): Promise<string[]> {
    if (page) checkMemberPage(page);
    const [start, stop] = page ? [page.offset, page.offset + page.limit - 1] : [0, -1];
    if (page && page.limit <= 0) return [];
    return this.call(() => this.redis.lrange(this.keys.swarm(swarm).members, start, stop), swarmSide(swarm));
  }

  async swarmResults(swarm: string, page?: MemberPage): Promise<unknown[]> {
    const s = this.keys.swarm(swarm);
    const members = await this.swarmMembers(swarm, page);
    if (members.length === 0) return [];
    const results: (string | null)[] = [];
    for (let i = 0; i < members.length; i += 5000) results.push(...(await this.call(() => this.redis.hmget(s.results, ...members.slice(i, i + 5000)), swarmSide(swarm))));
    // a failed member's entry is '' (it marks the member as counted; no JSON value is empty)
    return results.filter((r): r is string => r !== null && r !== '').map((r) => decodeValue(r, swarmSide(swarm)));
  }

  // --- graphs ----------------------------------------------------------------------

  async graphSettle(graph: string, node: string, step: GraphSettleStep, claim: ClaimOptions): Promise<GraphSettleResult> {
    const s = this.keys.swarm(graph);
    const outcome = step.outcome;
    const [how, result] = 'skipped' in outcome ? ['skipped', ''] : outcome.ok ? ['done', JSON.stringify(outcome.result ?? null)] : ['failed', ''];
    const edges = JSON.stringify(step.edges.map((e) => ({ edge: e.edge, target: e.target, incoming: e.incoming, taken: e.taken })));
    const [counted, settled, ready, skip, finished] = (await this.call(
      () => this.redis.mfGraphSettle(3, s.state, s.queue, s.results, node, how, result, edges, ...this.claimArgs(claim)),
      swarmSide(graph),
    )) as [number, number, string[], string[], FinishReply];
    const { counts, claimed } = finishResult(finished);
    return { counted: counted === 1, ready, skip, settled: Number(settled), counts, claimed };
  }

  async graphState(graph: string, only?: { nodes?: readonly string[]; edges?: readonly number[] }): Promise<GraphState> {
    const s = this.keys.swarm(graph);
    const state: GraphState = { settled: 0, skipPending: [], nodes: {}, edges: {} };
    const nodeOutcome = (key: string, value: string) => {
      const [outcome, took] = value.split(':');
      state.nodes[key] = { outcome: outcome as 'done' | 'failed' | 'skipped', taken: took === '1' };
    };
    if (only === undefined) {
      const fields = await this.call(() => this.redis.hgetall(s.state), swarmSide(graph));
      for (const [field, value] of Object.entries(fields)) {
        if (field === 'g#settled') state.settled = Number(value);
        else if (field.startsWith('gn:')) nodeOutcome(field.slice(3), value);
        else if (field.startsWith('ge:')) state.edges[Number(field.slice(3))] = value as 'taken' | 'skipped';
        else if (field.startsWith('gs:')) state.skipPending.push(field.slice(3));
      }
    } else {
      const nodes = only.nodes ?? [];
      const edges = only.edges ?? [];
      const values = await this.call(
        () => this.redis.hmget(s.state, 'g#settled', ...nodes.map((n) => `gn:${n}`), ...edges.map((e) => `ge:${e}`)),
        swarmSide(graph),
      );
      state.settled = Number(values[0] ?? 0);
      nodes.forEach((key, i) => values[1 + i] && nodeOutcome(key, values[1 + i]!));
      edges.forEach((edge, i) => {
        const value = values[1 + nodes.length + i];
        if (value) state.edges[edge] = value as 'taken' | 'skipped';
      });
    }
    const done = Object.keys(state.nodes).filter((key) => state.nodes[key]!.outcome === 'done');
    if (done.length > 0) {
      const results = await this.call(() => this.redis.hmget(s.results, ...done), swarmSide(graph));
      done.forEach((key, i) => {
        const value = results[i];
        if (value) state.nodes[key]!.result = decodeValue(value, swarmSide(graph));
      });
    }
    return state;
  }

  // --- leases ----------------------------------------------------------------------

  async lock(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.call(() => this.redis.mfLock(2, this.keys.lock(key), this.keys.record(key), holder, Math.max(1, Math.ceil(ttlMs))))) === 1;
  }

  async unlock(key: string, holder: string): Promise<void> {
    await this.call(() => this.redis.mfUnlock(2, this.keys.lock(key), this.keys.record(key), holder));
  }

  async heartbeat(worker: string, ttlMs: number): Promise<void> {
    await this.call(() => this.redis.mfHeartbeat(1, this.keys.workers(), worker, Math.max(1, Math.ceil(ttlMs))));
  }

  async liveWorkers(): Promise<Set<string>> {
    return new Set((await this.call(() => this.redis.mfLiveWorkers(1, this.keys.workers()))) as string[]);
  }

  // --- audit -------------------------------------------------------------------------

  async audit(entry: AuditEntry, ttlSec: number): Promise<void> {
    const key = this.keys.audit(entry.key);
    await this.call(() => this.redis.multi().rpush(key, JSON.stringify(entry)).expire(key, Math.max(1, Math.ceil(ttlSec))).exec());
  }

  async auditLog(key: string): Promise<AuditEntry[]> {
    const redisKey = this.keys.audit(key);
    return (await this.call(() => this.redis.lrange(redisKey, 0, -1))).map((e) => decodeValue(e, redisKey) as AuditEntry);
  }

  // --- observability -------------------------------------------------------------------

  async recordTtl(key: string): Promise<number | null> {
    const ms = await this.call(() => this.redis.pttl(this.keys.record(key)), key);
    return ms < 0 ? null : Math.ceil(ms / 1000);
  }

  async timeline(key: string): Promise<TimelineEntry[]> {
    const lines = await this.call(() => this.redis.hget(this.keys.record(key), TIMELINE), key);
    if (!lines) return [];
    return lines.split('\n').map((line) => decodeValue(line, key) as TimelineEntry);
  }

  async appendLogs(key: string, entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const encoded = entries.map((e) => JSON.stringify(checkLogEntry(key, e)));
    await this.call(() => this.redis.mfAppendLogs(2, this.keys.record(key), this.keys.log(key), LOG_CAP, this.feedChannel(), key, ...encoded), key);
  }

  async readLogs(key: string, query?: LogQuery): Promise<LogEntry[]> {
    const redisKey = this.keys.log(key);
    const entries = (await this.call(() => this.redis.lrange(redisKey, 0, -1), key)).map((e) => decodeValue(e, redisKey) as LogEntry);
    return filterLogs(entries, query);
  }

  async listRecords(query: ListQuery): Promise<ListPage> {
    const { limit, scanLimit } = listLimits(query);
    const [at, key, ...hashes] = (await this.list(query, 'page', limit, scanLimit)) as [string, string, ...string[][]];
    const records: SignatureRecord[] = [];
    for (const flat of hashes) {
      const fields = pairs(flat);
      const record = decodeRecord(fields, JSON.parse(fields.key ?? '""'));
      if (record) records.push(record);
    }
    return at === '' ? { records } : { records, cursor: encodeCursor({ at: Number(at), key }) };
  }

  async countRecords(query: ListQuery): Promise<StatusCounts> {
    const { scanLimit } = listLimits({ ...query, limit: undefined });
    const [complete, ...flat] = (await this.list({ ...query, cursor: undefined }, 'count', 1, scanLimit)) as [number, ...(string | number)[]];
    const counts = emptyStatusCounts();
    for (let i = 0; i < flat.length; i += 2) counts[JSON.parse(String(flat[i])) as keyof typeof counts] = Number(flat[i + 1]);
    return { counts, complete: complete === 1 };
  }

  private async list(query: ListQuery, mode: 'page' | 'count', limit: number, scanLimit: number): Promise<unknown[]> {
    const after = decodeCursor(query.cursor);
    const filter = {
      ...(query.kinds ? { kinds: query.kinds.map((k) => JSON.stringify(k)) } : {}),
      ...(query.statuses ? { statuses: query.statuses.map((s) => JSON.stringify(s)) } : {}),
      ...(query.taskName !== undefined ? { taskName: JSON.stringify(query.taskName) } : {}),
      ...(query.roots ? { roots: true } : {}),
      ...(query.text ? { text: query.text.toLowerCase() } : {}),
      ...(query.from !== undefined ? { from: query.from } : {}),
      ...(query.to !== undefined ? { to: query.to } : {}),
    };
    const [index, other] = query.roots ? [this.keys.rootIndex(), this.keys.index()] : [this.keys.index(), this.keys.rootIndex()];
    return (await this.call(() =>
      this.redis.mfListRecords(2, index, other, this.keys.record(''), after ? String(after.at) : '', after?.key ?? '', mode, limit, scanLimit, JSON.stringify(filter)),
    )) as unknown[];
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<FeedSubscription> {
    // a subscribed connection can do nothing else: one of its own per subscription
    const subscriber = this.redis.duplicate();
    subscriber.on('error', () => undefined);
    this.subscriptions.add(subscriber);
    subscriber.on('message', (_channel: string, message: string) => {
      let event: StoreEvent;
      try {
        event = JSON.parse(message) as StoreEvent;
      } catch {
        return; // not ours
      }
      try {
        listener(event);
      } catch {
        // the listener's own problem
      }
    });
    try {
      await subscriber.subscribe(this.keys.feed());
    } catch (error) {
      this.subscriptions.delete(subscriber);
      subscriber.disconnect();
      throw this.translate(error, undefined);
    }
    return {
      close: async () => {
        if (!this.subscriptions.delete(subscriber)) return;
        await subscriber.quit().catch(() => subscriber.disconnect());
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.feedWatch);
    for (const subscriber of this.subscriptions) subscriber.disconnect();
    this.subscriptions.clear();
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // --- internals ---------------------------------------------------------------------

  private async counts(swarm: string, close: boolean): Promise<SwarmCounts> {
    return toCounts((await this.call(() => this.redis.mfSwarmCounts(1, this.keys.swarm(swarm).state, close ? '1' : '0'), swarmSide(swarm))) as number[]);
  }

  /** Runs a Redis call; failures become typed Mageflow errors. */
  private async call<T>(fn: () => Promise<T>, key?: string): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.translate(error, key);
    }
  }

  private translate(error: unknown, key: string | undefined): Error {
    if (error instanceof MageflowError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/WRONGTYPE/.test(message)) {
      return new CorruptRecordError(`the Redis value under "${key ?? 'an unnamed key'}" is not a Mageflow record (${message})`, { cause: error, details: { key } });
    }
    // Say which server and why, not only the client's retry bookkeeping.
    const reason = this.lastConnectionError && /retries|Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(message)
      ? `${this.lastConnectionError.message} (${message})`
      : message;
    return new StoreUnavailableError(`Redis at ${this.where} is unavailable: ${reason}`, { cause: error, details: { url: this.where } });
  }
}

/** How a swarm's side keys are named in errors. */
function swarmSide(swarm: string): string {
  return `${swarm} (its swarm state: members, counters or results)`;
}


/** update-record's arguments (ARGV[1..7]) for an update of `key`. */
function updateArgs(key: string, update: RecordUpdate): (string | number)[] {
  const expect: { status?: string[]; fields?: Record<string, string | false> } = {};
  if (update.expect?.status) expect.status = update.expect.status.map((s) => JSON.stringify(s));
  for (const field of EXPECTABLE_FIELDS) {
    const wanted = update.expect?.[field];
    if (wanted !== undefined) (expect.fields ??= {})[field] = wanted === null ? false : JSON.stringify(wanted);
  }
  const track = update.untrack ? 'untrack' : update.track ? 'track' : '';
  return [
    JSON.stringify(expect), JSON.stringify(encodeFields(update.set ?? {})), JSON.stringify(update.unset ?? []),
    update.ttlSec === undefined ? '' : Math.max(1, Math.ceil(update.ttlSec)), update.lockHolder ?? '', track, key,
  ];
}

function updateResult(reply: string[], key: string): UpdateResult {
  const [tag, ...fields] = reply;
  if (tag === 'missing') return { ok: false, reason: 'missing' };
  const record = decodeRecord(pairs(fields), key)!;
  if (tag === 'ok') return { ok: true, record };
  return { ok: false, reason: tag as 'mismatch' | 'locked', record };
}

/** claim.lua's arguments (see claimOptions there). */
/** A claimed member as the claim scripts hand it back: key, run id it was begun for or '', record fields. */
type HandedOver = [string, string, string[]];
type FinishReply = [number, number, number, number, number, number, number, ...HandedOver[]];

function claimedOf([key, runId, flat]: HandedOver): Claimed {
  let record: Claimed['record'];
  try {
    record = decodeRecord(pairs(flat), key);
  } catch (error) {
    if (!(error instanceof CorruptRecordError)) throw error;
    record = error; // one unreadable member does not fail the step that claimed it
  }
  return { key, record, ...(runId ? { runId } : {}) };
}

function finishResult(reply: FinishReply): FinishResult {
  return { counted: reply[0] === 1, counts: toCounts(reply.slice(1, 7) as number[]), claimed: (reply.slice(7) as HandedOver[]).map(claimedOf) };
}

/** A state field naming a member that holds a slot (`slot:<member>` -> worker). */
const SLOT = 'slot:';

function encodeFields(record: Partial<SignatureRecord>): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(record)) if (value !== undefined) out.push(field, JSON.stringify(value));
  return out;
}

function encodeStatuses(statuses: readonly string[]): string {
  return JSON.stringify(statuses.map((s) => JSON.stringify(s)));
}

/** Fields the store keeps in a record hash that are not the record's start with this (see lua/record.lua). */
const STORE_FIELD = '#';
/** the record hash's field holding its timeline, one JSON entry a line. */
const TIMELINE = '#tl';
/** how often a store asks whether the change feed has subscribers, in ms. */
const FEED_POLL_MS = 1000;

function decodeRecord(hash: Record<string, string>, key: string): SignatureRecord | null {
  const fields = Object.entries(hash).filter(([field]) => !field.startsWith(STORE_FIELD));
  if (fields.length === 0) return null;
  const value: Record<string, unknown> = {};
  for (const [field, encoded] of fields) value[field] = decodeValue(encoded, key);
  return parseRecord(value, key);
}

function decodeValue(encoded: string, key: string): unknown {
  try {
    return JSON.parse(encoded);
  } catch {
    throw new CorruptRecordError(`the Redis value under "${key}" is not valid JSON`, { details: { key } });
  }
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

function toCounts(r: number[]): SwarmCounts {
  return { total: Number(r[0] ?? 0), queued: Number(r[1] ?? 0), running: Number(r[2] ?? 0), done: Number(r[3] ?? 0), failed: Number(r[4] ?? 0), closed: Number(r[5] ?? 0) === 1 };
}
