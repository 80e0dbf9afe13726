/**
 * The Mageflow Store on PostgreSQL, through node-postgres (`pg`).
 *
 * Each step two workers can race on is one statement or one call of a PL/pgSQL
 * function (see migrations.ts): one round trip, one transaction. One swarm member's
 * life costs a constant number of round trips and index lookups whatever the swarm's
 * size: members are rows, claimed with `ORDER BY level, seq LIMIT n FOR UPDATE SKIP
 * LOCKED`, never a list rewritten.
 */
import pg from 'pg';
import {
  CorruptRecordError,
  DEFAULT_PRIORITY,
  InvalidArgumentError,
  MageflowError,
  priorityRank,
  StoreUnavailableError,
  type AuditEntry,
  type Claimed,
  type ClaimOptions,
  type CreateOptions,
  type FeedSubscription,
  type FinishResult,
  type GraphSettleResult,
  type GraphSettleStep,
  type GraphState,
  type ListPage,
  type ListQuery,
  type LogEntry,
  type LogQuery,
  type MemberPage,
  type StatusCounts,
  type StoreEvent,
  type TimelineEntry,
  type Priority,
  type RecordUpdate,
  type SignatureRecord,
  type SlotHolder,
  type Store,
  type SwarmAddOptions,
  type SwarmAddResult,
  type SwarmCounts,
  type UpdateResult,
  checkLogEntry,
  checkMemberPage,
  emptyStatusCounts,
  encodeCursor,
  filterLogs,
  listLimits,
  LOG_CAP,
  matchesListQuery,
  STATUSES,
  redactUrl,
} from '@mageflow/core';
import { decodeRecord, decodeTimelineEntry, decodeValue, encodeFields, encodeStatuses, listArgs, readableRecord, updateArgs, wholeSeconds, type EncodedEntry } from './codec';
import { FeedListener } from './feed';
import { SwarmGate } from './swarm-gate';
import { migrate, quoteIdent, validSchemaName } from './migrate';

export interface PostgresStoreOptions {
  /** a postgres:// URL; ignored when `pool` is given. Default postgres://postgres@127.0.0.1:5432/postgres. */
  connectionString?: string;
  /** your own `pg` pool (TLS, credentials and sizes are yours). Not closed by close(). */
  pool?: pg.Pool;
  /** options for the pool made from `connectionString` (max connections, ssl...). */
  poolOptions?: pg.PoolConfig;
  /**
   * The schema the store's tables live in, created on first use, so several apps or
   * test files share one database. 1 to 63 letters, digits or '_'. Default "mageflow".
   */
  schema?: string;
  /**
   * How long one call may take before it fails with `StoreUnavailableError` (a stuck
   * server must not hang a worker), in ms: the pool's `query_timeout` and the server's
   * `statement_timeout`. Default 10000. Ignored when you hand over your own `pool`.
   */
  commandTimeoutMs?: number;
  /** How often the store deletes expired rows, in ms; `false`: never (run `cleanup()` yourself). Default 60000. */
  cleanupEveryMs?: number | false;
  /** At most this many expired rows per table deleted by one cleanup pass. Default 1000. */
  cleanupBatch?: number;
  /**
   * `true` (the default): each step waits for its commit to be flushed to disk, so every
   * step the store acknowledged survives a crash of the server. `false`: the store's
   * connections run with `synchronous_commit = off`: a step returns once committed in
   * memory, and the server flushes it within `wal_writer_delay` (200 ms by default; at
   * most three times that). The database stays consistent and no other session's data
   * is at risk, but a crash of the server (not of a worker) loses the last steps it
   * acknowledged, up to about 0.6 s of them; the workers' sweep then runs the work
   * again from what survived. Several times the steps per second on a single swarm.
   * Only for the pool the store makes (with your own `pool`, set it there: a refused
   * combination).
   */
  durableCommits?: boolean;
  /**
   * At most this many steps of one swarm (a member's end and the next claim, a claim, a
   * graph node's settlement) in flight from this store at once; the rest wait in the
   * process, holding no connection. A swarm's steps are serialized on its counters' row
   * anyway: more of them at once only make server processes queue on it, which costs the
   * server CPU. Default 4.
   */
  swarmStepsInFlight?: number;
}

/** SQLSTATEs of a transaction the server rolled back to break a deadlock or a serialization conflict: safe to send again. */
const ROLLED_BACK = new Set(['40P01', '40001']);
/** Rows read per query by the reads that return a whole swarm (members, results). */
const PAGE = 10_000;

export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  /** the schema name; also the namespace Mageflow hands the engine. */
  readonly namespace: string;
  readonly schema: string;
  private readonly S: string;
  private readonly ownsPool: boolean;
  private readonly where: string;
  private readonly cleanupEveryMs: number | false;
  private readonly cleanupBatch: number;
  private readonly gate: SwarmGate;
  private migrated: Promise<void> | undefined;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleaning: Promise<unknown> | undefined;
  private closed = false;
  /** the last error of a background cleanup pass (cleanup runs again on the next tick). */
  lastCleanupError: Error | undefined;

  constructor(options: PostgresStoreOptions = {}) {
    const schema = options.schema ?? 'mageflow';
    if (!validSchemaName(schema)) {
      throw new InvalidArgumentError(`PostgreSQL schema ${JSON.stringify(schema)} must be 1 to 63 letters, digits or '_', not starting with a digit`);
    }
    const timeout = options.commandTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError(`commandTimeoutMs must be a positive number of ms, got ${String(timeout)}`);
    const every = options.cleanupEveryMs ?? 60_000;
    if (every !== false && (!Number.isFinite(every) || every <= 0)) throw new InvalidArgumentError(`cleanupEveryMs must be a positive number of ms or false, got ${String(every)}`);
    const batch = options.cleanupBatch ?? 1000;
    if (!Number.isInteger(batch) || batch <= 0) throw new InvalidArgumentError(`cleanupBatch must be a positive integer, got ${String(batch)}`);
    this.schema = schema;
    this.namespace = schema;
    this.S = quoteIdent(schema);
    this.cleanupEveryMs = every;
    this.cleanupBatch = batch;
    const durable = options.durableCommits ?? true;
    if (typeof durable !== 'boolean') throw new InvalidArgumentError(`durableCommits must be true or false, got ${String(durable)}`);
    if (!durable && options.pool) {
      throw new InvalidArgumentError('durableCommits: false applies to the pool the store makes; on your own pool, set synchronous_commit = off in its options');
    }
    const inFlight = options.swarmStepsInFlight ?? 4;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new InvalidArgumentError(`swarmStepsInFlight must be a positive integer, got ${String(inFlight)}`);
    this.gate = new SwarmGate(inFlight);
    this.ownsPool = !options.pool;
    const url = options.connectionString ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    this.where = options.pool ? 'the pool handed to PostgresStore' : redactUrl(url, 'PostgreSQL');
    this.pool =
      options.pool ??
      new pg.Pool({
        connectionString: url,
        max: 10,
        connectionTimeoutMillis: timeout,
        query_timeout: timeout,
        statement_timeout: timeout,
        // a startup parameter of each connection: no round trip of its own
        ...(durable ? {} : { options: '-c synchronous_commit=off' }),
        ...options.poolOptions,
      });
    // An idle connection the server drops (a restart) is reported here; without a
    // listener it would crash the process. Calls that meet the outage fail on their own.
    this.pool.on('error', (error: Error) => (this.lastConnectionError = error));
  }

  private lastConnectionError: Error | undefined;

  /** Applies the schema's missing migrations now (the store also does it on first use). */
  async migrate(): Promise<void> {
    return this.ready();
  }

  // --- records -------------------------------------------------------------------

  async createRecords(records: readonly SignatureRecord[], options: CreateOptions): Promise<void> {
    if (records.length === 0) return;
    const seen = new Set<string>();
    for (const r of records) {
      if (seen.has(r.key)) throw new InvalidArgumentError(`a signature "${r.key}" is given twice`);
      seen.add(r.key);
    }
    const payload = JSON.stringify(records.map((r) => [r.key, encodeFields(r)]));
    try {
      await this.query('create', `SELECT ${this.S}.create_records($1::jsonb, $2, $3)`, [payload, wholeSeconds(options.ttlSec), options.track]);
    } catch (error) {
      const pgError = (error as { cause?: { code?: string; detail?: string } }).cause;
      if (error instanceof StoreUnavailableError && pgError?.code === '23505') {
        throw new InvalidArgumentError(`a signature "${pgError.detail ?? records[0]!.key}" already exists`, { cause: pgError });
      }
      throw error;
    }
  }

  async getRecord(key: string): Promise<SignatureRecord | null> {
    return (await this.getRecords([key]))[0]!;
  }

  async getRecords(keys: readonly string[]): Promise<(SignatureRecord | null)[]> {
    if (keys.length === 0) return [];
    const rows = await this.rows<{ key: string; body: unknown }>(
      'get',
      `SELECT key, body FROM ${this.S}.record WHERE key = ANY ($1) AND expires_at > now()`,
      [keys],
      keys.length === 1 ? keys[0] : undefined,
    );
    const bodies = new Map(rows.map((r) => [r.key, r.body]));
    return keys.map((key) => (bodies.has(key) ? decodeRecord(bodies.get(key), key) : null));
  }

  async updateRecord(key: string, update: RecordUpdate): Promise<UpdateResult> {
    const reply = await this.value<[string, unknown?]>('update', `SELECT ${this.S}.update_record($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8) AS v`, [key, ...updateArgs(update)], key);
    return updateResult(reply, key);
  }

  async deleteRecords(keys: readonly string[], options: { lockHolder?: string } = {}) {
    if (keys.length === 0) return { ok: true as const };
    const locked = await this.value<string[] | null>('delete', `SELECT ${this.S}.delete_records($1, $2) AS v`, [keys, options.lockHolder ?? null]);
    return locked ? { ok: false as const, locked } : { ok: true as const };
  }

  async expireRecords(keys: readonly string[], ttlSec: number): Promise<void> {
    if (keys.length === 0) return;
    await this.query(
      'expire',
      `WITH r AS (UPDATE ${this.S}.record SET expires_at = now() + make_interval(secs => $2) WHERE key = ANY ($1) AND expires_at > now())
       UPDATE ${this.S}.swarm SET expires_at = now() + make_interval(secs => $2) WHERE key = ANY ($1) AND expires_at > now()`,
      [keys, wholeSeconds(ttlSec)],
    );
  }

  async listOpen(cursor: string | undefined, limit: number) {
    const rows = await this.rows<{ key: string }>(
      'list-open',
      `SELECT key FROM ${this.S}.record WHERE open AND expires_at > now() AND ($1::text IS NULL OR key > $1) ORDER BY key LIMIT $2`,
      [cursor ?? null, limit],
    );
    const keys = rows.map((r) => r.key);
    return keys.length === limit && limit > 0 ? { keys, cursor: keys[keys.length - 1]! } : { keys };
  }

  // --- swarms ----------------------------------------------------------------------

  async swarmAdd(swarm: string, members: readonly string[], options: SwarmAddOptions): Promise<SwarmAddResult> {
    const levels = options.priorities?.some((p) => p !== undefined && p !== DEFAULT_PRIORITY)
      ? JSON.stringify(members.map((_, i) => priorityRank(options.priorities![i])))
      : null;
    const reply = await this.value<[string, ...number[]]>(
      'swarm-add',
      `SELECT ${this.S}.swarm_add($1, $2::jsonb, $3::jsonb, $4, $5) AS v`,
      [swarm, JSON.stringify(members), levels, options.maxTaskAllowed ?? null, wholeSeconds(options.ttlSec)],
      swarmSide(swarm),
    );
    const counts = toCounts(reply.slice(1) as number[]);
    if (reply[0] === 'ok') return { ok: true, counts };
    return { ok: false, reason: reply[0] as 'closed' | 'too_many', counts };
  }

  async swarmClaim(swarm: string, options: ClaimOptions): Promise<Claimed[]> {
    const reply = await this.stepOf(swarm, () => this.value<HandedOver[]>(
      'swarm-claim',
      `SELECT ${this.S}.swarm_claim($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) AS v`,
      [swarm, ...claimArgs(options)],
      swarmSide(swarm),
    ));
    return reply.map(claimedOf);
  }

  async swarmFinish(
    swarm: string,
    member: string,
    outcome: { ok: true; result: unknown } | { ok: false },
    claim: ClaimOptions,
    end?: RecordUpdate,
  ): Promise<FinishResult> {
    const finishArgs = [outcome.ok, outcome.ok ? JSON.stringify(outcome.result ?? null) : null, ...claimArgs(claim)];
    if (!end) {
      const reply = await this.stepOf(swarm, () => this.value<FinishReply>(
        'swarm-finish',
        `SELECT ${this.S}.swarm_finish($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) AS v`,
        [swarm, member, ...finishArgs],
        swarmSide(swarm),
      ));
      return finishResult(reply);
    }
    // the member's end and its count, in one call: the count happens only if the end applied
    const [endReply, finishReply] = await this.stepOf(swarm, () => this.value<[[string, unknown?], FinishReply]>(
      'swarm-end',
      `SELECT ${this.S}.swarm_end($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::jsonb) AS v`,
      [member, ...updateArgs(end), swarm, ...finishArgs],
      swarmSide(swarm),
    ));
    const ended = updateResult(endReply, member);
    if (!ended.ok) return { counted: false, counts: toCounts(finishReply.slice(1) as number[]), claimed: [], ended };
    return { ...finishResult(finishReply), ended };
  }

  async swarmClose(swarm: string): Promise<SwarmCounts> {
    const rows = await this.rows<CountsRow>(
      'swarm-close',
      `UPDATE ${this.S}.swarm SET closed = true WHERE key = $1 AND expires_at > now() RETURNING total, queued, running, done, failed, closed`,
      [swarm],
      swarmSide(swarm),
    );
    return rowCounts(rows[0]);
  }

  async swarmCounts(swarm: string): Promise<SwarmCounts> {
    const rows = await this.rows<CountsRow>(
      'swarm-counts',
      `SELECT total, queued, running, done, failed, closed FROM ${this.S}.swarm WHERE key = $1 AND expires_at > now()`,
      [swarm],
      swarmSide(swarm),
    );
    return rowCounts(rows[0]);
  }

  async swarmRunning(swarm: string): Promise<SlotHolder[]> {
    return this.rows<SlotHolder>(
      'swarm-running',
      `SELECT m.member, m.worker FROM ${this.S}.member m WHERE m.swarm = $1 AND m.state = 2
         AND EXISTS (SELECT 1 FROM ${this.S}.swarm s WHERE s.key = $1 AND s.expires_at > now())`,
      [swarm],
      swarmSide(swarm),
    );
  }

  async swarmReassign(swarm: string, member: string, from: string, to: string): Promise<boolean> {
    const rows = await this.rows(
      'swarm-reassign',
      `UPDATE ${this.S}.member SET worker = $4 WHERE swarm = $1 AND member = $2 AND state = 2 AND worker = $3
         AND EXISTS (SELECT 1 FROM ${this.S}.swarm s WHERE s.key = $1 AND s.expires_at > now()) RETURNING 1`,
      [swarm, member, from, to],
      swarmSide(swarm),
    );
    return rows.length === 1;
  }

  async swarmSetPriority(swarm: string, member: string, priority: Priority): Promise<boolean> {
    return this.value<boolean>(
      'swarm-set-priority',
      `SELECT ${this.S}.swarm_set_priority($1, $2, $3, $4) AS v`,
      [swarm, member, priorityRank(priority), JSON.stringify(priority)],
      swarmSide(swarm),
    );
  }

  async swarmReset(swarm: string): Promise<void> {
    await this.query('swarm-reset', `SELECT ${this.S}.swarm_reset($1)`, [swarm], swarmSide(swarm));
  }

  async swarmDrainQueue(swarm: string): Promise<string[]> {
    return this.value<string[]>('swarm-drain', `SELECT ${this.S}.swarm_drain($1) AS v`, [swarm], swarmSide(swarm));
  }

  async swarmMembers(swarm: string, page?: MemberPage): Promise<string[]> {
    if (!page) return (await this.swarmPositions(swarm, false)).map((r) => r.member);
    checkMemberPage(page);
    if (page.limit === 0) return [];
    // positions are dense from 1 (see swarm_add), so a page is a range of them: O(limit) whatever the offset
    const rows = await this.rows<{ member: string }>(
      'swarm-members-page',
      `SELECT x.member FROM (
         SELECT m.pos, m.member FROM ${this.S}.member m WHERE m.swarm = $1 AND m.pos > $2 AND m.pos <= $2 + $3
         UNION ALL
         SELECT r.pos, r.member FROM ${this.S}.member_repeat r WHERE r.swarm = $1 AND r.pos > $2 AND r.pos <= $2 + $3
       ) x WHERE EXISTS (SELECT 1 FROM ${this.S}.swarm s WHERE s.key = $1 AND s.expires_at > now())
       ORDER BY x.pos`,
      [swarm, page.offset, page.limit],
      swarmSide(swarm),
    );
    return rows.map((r) => r.member);
  }

  async swarmResults(swarm: string, page?: MemberPage): Promise<unknown[]> {
    if (!page) return (await this.swarmPositions(swarm, true)).map((r) => decodeValue(r.result!, swarmSide(swarm)));
    checkMemberPage(page);
    if (page.limit === 0) return [];
    // a range of positions, as swarmMembers' page; a repeated position reads its member's row
    const rows = await this.rows<{ result: string }>(
      'swarm-results-page',
      `SELECT x.result FROM (
         SELECT m.pos, m.result FROM ${this.S}.member m WHERE m.swarm = $1 AND m.pos > $2 AND m.pos <= $2 + $3 AND m.outcome
         UNION ALL
         SELECT r.pos, m.result FROM ${this.S}.member_repeat r JOIN ${this.S}.member m ON m.swarm = r.swarm AND m.member = r.member
           WHERE r.swarm = $1 AND r.pos > $2 AND r.pos <= $2 + $3 AND m.outcome
       ) x WHERE EXISTS (SELECT 1 FROM ${this.S}.swarm s WHERE s.key = $1 AND s.expires_at > now())
       ORDER BY x.pos`,
      [swarm, page.offset, page.limit],
      swarmSide(swarm),
    );
    return rows.map((r) => decodeValue(r.result, swarmSide(swarm)));
  }

  /** Every position of the swarm's member list in order (only those that succeeded, with their results, when `succeeded`), read in pages. */
  private async swarmPositions(swarm: string, succeeded: boolean): Promise<{ member: string; result: string | null }[]> {
    const out: { member: string; result: string | null }[] = [];
    const outcome = succeeded ? 'AND m.outcome' : '';
    let after = 0;
    for (;;) {
      const page = await this.rows<{ pos: string; member: string; result: string | null }>(
        succeeded ? 'swarm-results' : 'swarm-members',
        `SELECT x.pos, x.member, x.result FROM (
           SELECT m.pos, m.member, m.result FROM ${this.S}.member m WHERE m.swarm = $1 AND m.pos > $2 ${outcome}
           UNION ALL
           SELECT r.pos, r.member, m.result FROM ${this.S}.member_repeat r JOIN ${this.S}.member m ON m.swarm = r.swarm AND m.member = r.member
             WHERE r.swarm = $1 AND r.pos > $2 ${outcome}
         ) x WHERE EXISTS (SELECT 1 FROM ${this.S}.swarm s WHERE s.key = $1 AND s.expires_at > now())
         ORDER BY x.pos LIMIT ${PAGE}`,
        [swarm, after],
        swarmSide(swarm),
      );
      for (const row of page) out.push(row);
      if (page.length < PAGE) return out;
      after = Number(page[page.length - 1]!.pos);
    }
  }

  // --- graphs ------------------------------------------------------------------------

  async graphSettle(graph: string, node: string, step: GraphSettleStep, claim: ClaimOptions): Promise<GraphSettleResult> {
    const outcome = 'skipped' in step.outcome ? 'skipped' : step.outcome.ok ? 'done' : 'failed';
    const result = 'ok' in step.outcome && step.outcome.ok ? JSON.stringify(step.outcome.result ?? null) : null;
    const edges = step.edges.map(({ edge, target, incoming, taken }) => ({ edge, target, incoming, taken }));
    const [counted, settled, ready, skip, finished] = await this.stepOf(graph, () => this.value<[number, number, string[], string[], FinishReply]>(
      'graph-settle',
      `SELECT ${this.S}.graph_settle($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13::jsonb) AS v`,
      [graph, node, outcome, result, JSON.stringify(edges), ...claimArgs(claim)],
      swarmSide(graph),
    ));
    const { counts, claimed } = finishResult(finished);
    return { counted: counted === 1, ready, skip, settled: Number(settled), counts, claimed };
  }

  async graphState(graph: string, only: { nodes?: readonly string[]; edges?: readonly number[] } = {}): Promise<GraphState> {
    const reply = await this.value<{ settled: number; skipPending: string[]; nodes: [string, GraphNodeOutcome, boolean, string | null][]; edges: [number, boolean][] }>(
      'graph-state',
      `SELECT ${this.S}.graph_state($1, $2, $3) AS v`,
      [graph, only.nodes ?? null, only.edges ?? null],
      swarmSide(graph),
    );
    const nodes: GraphState['nodes'] = {};
    for (const [node, outcome, taken, result] of reply.nodes) {
      nodes[node] = result === null ? { outcome, taken } : { outcome, taken, result: decodeValue(result, swarmSide(graph)) };
    }
    const edges: GraphState['edges'] = {};
    for (const [edge, taken] of reply.edges) edges[edge] = taken ? 'taken' : 'skipped';
    return { settled: Number(reply.settled), skipPending: reply.skipPending, nodes, edges };
  }

  // --- leases ----------------------------------------------------------------------

  async lock(key: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await this.rows(
      'lock',
      `INSERT INTO ${this.S}.lock AS l (key, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE l.holder = excluded.holder OR l.expires_at <= now()
       RETURNING 1`,
      [key, holder, Math.max(1, Math.ceil(ttlMs))],
    );
    return rows.length === 1;
  }

  async unlock(key: string, holder: string): Promise<void> {
    await this.query('unlock', `DELETE FROM ${this.S}.lock WHERE key = $1 AND holder = $2`, [key, holder]);
  }

  async heartbeat(worker: string, ttlMs: number): Promise<void> {
    // times come from the server's clock, so workers on machines with skewed clocks agree on who is alive
    await this.query(
      'heartbeat',
      `INSERT INTO ${this.S}.worker (worker, expires_at) VALUES ($1, now() + make_interval(secs => $2::double precision / 1000))
       ON CONFLICT (worker) DO UPDATE SET expires_at = excluded.expires_at`,
      [worker, Math.max(1, Math.ceil(ttlMs))],
    );
  }

  async liveWorkers(): Promise<Set<string>> {
    const rows = await this.rows<{ worker: string }>('live-workers', `SELECT worker FROM ${this.S}.worker WHERE expires_at > now()`, []);
    return new Set(rows.map((r) => r.worker));
  }

  // --- audit -------------------------------------------------------------------------

  async audit(entry: AuditEntry, ttlSec: number): Promise<void> {
    // a key's entries live as long as its last one, as a Redis list with its TTL
    await this.query(
      'audit',
      `WITH bumped AS (UPDATE ${this.S}.audit SET expires_at = now() + make_interval(secs => $3) WHERE key = $1 AND expires_at > now())
       INSERT INTO ${this.S}.audit (key, entry, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [entry.key, JSON.stringify(entry), wholeSeconds(ttlSec)],
    );
  }

  async auditLog(key: string): Promise<AuditEntry[]> {
    const rows = await this.rows<{ entry: string }>('audit-log', `SELECT entry FROM ${this.S}.audit WHERE key = $1 AND expires_at > now() ORDER BY id`, [key]);
    return rows.map((r) => decodeValue(r.entry, `audit of ${key}`) as AuditEntry);
  }

  // --- observability -----------------------------------------------------------------

  async recordTtl(key: string): Promise<number | null> {
    const rows = await this.rows<{ ttl: number }>(
      'record-ttl',
      `SELECT greatest(0, ceil(extract(epoch FROM expires_at - now())))::integer AS ttl FROM ${this.S}.record WHERE key = $1 AND expires_at > now()`,
      [key],
      key,
    );
    return rows[0] ? rows[0].ttl : null;
  }

  async timeline(key: string): Promise<TimelineEntry[]> {
    const rows = await this.rows<{ timeline: EncodedEntry[] }>(
      'timeline',
      `SELECT timeline FROM ${this.S}.record WHERE key = $1 AND expires_at > now()`,
      [key],
      key,
    );
    return rows[0] ? rows[0].timeline.map((entry) => decodeTimelineEntry(entry, key)) : [];
  }

  async appendLogs(key: string, entries: readonly LogEntry[]): Promise<void> {
    const encoded = entries.map((e) => JSON.stringify(checkLogEntry(key, e)));
    if (encoded.length === 0) return;
    await this.query('append-logs', `SELECT ${this.S}.append_logs($1, $2, $3)`, [key, encoded, LOG_CAP], key);
  }

  async readLogs(key: string, query?: LogQuery): Promise<LogEntry[]> {
    const rows = await this.rows<{ entry: string }>(
      'read-logs',
      `SELECT l.entry FROM ${this.S}.log l WHERE l.key = $1
         AND EXISTS (SELECT 1 FROM ${this.S}.record r WHERE r.key = $1 AND r.expires_at > now()) ORDER BY l.seq`,
      [key],
      key,
    );
    return filterLogs(rows.map((r) => decodeValue(r.entry, `logs of ${key}`) as LogEntry), query);
  }

  async listRecords(query: ListQuery): Promise<ListPage> {
    const { limit, scanLimit } = listLimits(query);
    const reply = await this.value<{ records: [string, unknown][]; cursor: [number | string, string] | null }>(
      'list-records',
      `SELECT ${this.S}.list_records($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS v`,
      [...listArgs(query), limit, scanLimit],
    );
    const records: SignatureRecord[] = [];
    for (const [key, body] of reply.records) {
      const record = readableRecord(body, key);
      // the SQL filters compare encoded values; the decoded record has the last word
      if (record && matchesListQuery(record, query)) records.push(record);
    }
    return reply.cursor ? { records, cursor: encodeCursor({ at: Number(reply.cursor[0]), key: reply.cursor[1] }) } : { records };
  }

  async countRecords(query: ListQuery): Promise<StatusCounts> {
    const { scanLimit } = listLimits({ ...query, limit: undefined });
    const reply = await this.value<{ counts: Record<string, number>; complete: boolean }>(
      'count-records',
      `SELECT ${this.S}.count_records($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS v`,
      [...listArgs({ ...query, cursor: undefined }), scanLimit],
    );
    const counts = emptyStatusCounts();
    for (const [encoded, n] of Object.entries(reply.counts)) {
      const status = safeParse(encoded);
      if (typeof status === 'string' && (STATUSES as readonly string[]).includes(status)) counts[status as keyof typeof counts] += Number(n);
    }
    return { counts, complete: reply.complete };
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<FeedSubscription> {
    await this.ready();
    const subscription = new FeedListener(this.pool, this.S, this.schema, listener, (error) => this.translate(error, undefined));
    await subscription.open();
    this.subscriptions.add(subscription);
    return {
      close: async () => {
        if (!this.subscriptions.delete(subscription)) return;
        await subscription.close();
      },
    };
  }

  private readonly subscriptions = new Set<FeedListener>();

  // --- upkeep --------------------------------------------------------------------------

  /**
   * Deletes expired rows: at most `cleanupBatch` per table (members: in all) per pass,
   * as many passes as `passes` allows while a pass finds a full batch. Returns the rows
   * deleted. The store runs one pass every `cleanupEveryMs` on its own.
   */
  async cleanup(passes = 1): Promise<number> {
    let removed = 0;
    for (let i = 0; i < passes; i++) {
      const n = Number(await this.value<number>('cleanup', `SELECT ${this.S}.cleanup($1) AS v`, [this.cleanupBatch]));
      removed += n;
      if (n < this.cleanupBatch) break;
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
    await this.cleaning?.catch(() => undefined);
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.all(subscriptions.map((s) => s.close()));
    if (this.ownsPool && !this.poolEnded) {
      this.poolEnded = true;
      await this.pool.end().catch(() => undefined);
    }
  }

  private poolEnded = false;

  // --- internals ---------------------------------------------------------------------

  /** Migrates the schema once per store (again after a failure), and starts the cleanup timer. */
  private ready(): Promise<void> {
    this.migrated ??= migrate(this.pool, this.schema).then(
      () => this.startCleanup(),
      (error: unknown) => {
        this.migrated = undefined;
        throw this.translate(error, undefined);
      },
    );
    return this.migrated;
  }

  private startCleanup(): void {
    if (this.cleanupEveryMs === false || this.cleanupTimer || this.closed) return;
    this.cleanupTimer = setInterval(() => {
      if (this.cleaning) return; // one pass at a time
      this.cleaning = this.cleanup().then(
        () => (this.lastCleanupError = undefined),
        (error: Error) => (this.lastCleanupError = error),
      ).finally(() => (this.cleaning = undefined));
    }, this.cleanupEveryMs);
    // never keeps a process alive
    this.cleanupTimer.unref();
  }

  /**
   * Runs one statement as a named prepared statement (parsed and planned once per
   * connection); failures become typed Mageflow errors. A transaction the server
   * rolled back to break a deadlock did nothing, so it is sent again.
   */
  private async query(name: string, text: string, values: unknown[], key?: string): Promise<pg.QueryResult> {
    if (this.closed) throw new StoreUnavailableError(`the PostgreSQL store at ${this.where} is closed`, { details: { url: this.where } });
    await this.ready();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query({ name: `mf:${this.schema}:${name}`, text, values });
      } catch (error) {
        if (attempt < 4 && ROLLED_BACK.has((error as { code?: string }).code ?? '')) continue;
        throw this.translate(error, key);
      }
    }
  }

  /** A step that locks the swarm's counters' row, through the swarm's gate (see swarm-gate.ts). */
  private stepOf<T>(swarm: string, step: () => Promise<T>): Promise<T> {
    return this.gate.run(swarm, step);
  }

  private async rows<R>(name: string, text: string, values: unknown[], key?: string): Promise<R[]> {
    return (await this.query(name, text, values, key)).rows as R[];
  }

  /** The single value (column `v`) of a one-row result. */
  private async value<T>(name: string, text: string, values: unknown[], key?: string): Promise<T> {
    return (await this.rows<{ v: T }>(name, text, values, key))[0]!.v;
  }

  private translate(error: unknown, key: string | undefined): Error {
    if (error instanceof MageflowError) return error;
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: string }).code ?? '';
    // a data exception: a stored value PostgreSQL cannot read as it must
    if (code.startsWith('22')) {
      return new CorruptRecordError(`a value stored in PostgreSQL for "${key ?? 'an unnamed key'}" is unreadable (${message})`, { cause: error, details: { key } });
    }
    const reason = this.lastConnectionError && /terminat|ECONNRESET|Connection/i.test(message) && this.lastConnectionError.message !== message
      ? `${message} (${this.lastConnectionError.message})`
      : message;
    return new StoreUnavailableError(`PostgreSQL at ${this.where} is unavailable: ${reason}`, { cause: error, details: { url: this.where, ...(code ? { sqlstate: code } : {}) } });
  }
}

/** How a swarm's side rows are named in errors. */
function swarmSide(swarm: string): string {
  return `${swarm} (its swarm state: members, counters or results)`;
}

type GraphNodeOutcome = GraphState['nodes'][string]['outcome'];

/** JSON text, or undefined when it is not. */
function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}


/** The claim's arguments to the claim steps (see migrations.ts, claim_step), from `max_running` to `begin_set`. */
function claimArgs(options: ClaimOptions): unknown[] {
  return [
    options.maxConcurrency,
    encodeStatuses(options.whenStatus),
    options.worker,
    options.limit ?? null,
    options.stopAfterFailures ?? null,
    options.begin ? options.begin.runIdPrefix : null,
    options.begin ? JSON.stringify(options.worker) : null,
    options.begin ? JSON.stringify(encodeFields(options.begin.set)) : null,
  ];
}

function updateResult(reply: [string, unknown?], key: string): UpdateResult {
  const [tag, body] = reply;
  if (tag === 'missing') return { ok: false, reason: 'missing' };
  const record = decodeRecord(body, key);
  if (tag === 'ok') return { ok: true, record };
  return { ok: false, reason: tag as 'mismatch' | 'locked', record };
}

/** A claimed member as the claim steps hand it back: key, run id it was begun for or '', body or null. */
type HandedOver = [string, string, unknown];
type FinishReply = [number, number, number, number, number, number, number, HandedOver[]];
type CountsRow = { total: number; queued: number; running: number; done: number; failed: number; closed: boolean };

function claimedOf([key, runId, body]: HandedOver): Claimed {
  let record: Claimed['record'] = null;
  if (body !== null) {
    try {
      record = decodeRecord(body, key);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      record = error; // one unreadable member does not fail the step that claimed it
    }
  }
  return { key, record, ...(runId ? { runId } : {}) };
}

function finishResult(reply: FinishReply): FinishResult {
  return { counted: reply[0] === 1, counts: toCounts(reply.slice(1, 7) as number[]), claimed: (reply[7] ?? []).map(claimedOf) };
}

function toCounts(r: number[]): SwarmCounts {
  return { total: Number(r[0] ?? 0), queued: Number(r[1] ?? 0), running: Number(r[2] ?? 0), done: Number(r[3] ?? 0), failed: Number(r[4] ?? 0), closed: Number(r[5] ?? 0) === 1 };
}

function rowCounts(row: CountsRow | undefined): SwarmCounts {
  if (!row) return { total: 0, queued: 0, running: 0, done: 0, failed: 0, closed: false };
  return { total: row.total, queued: row.queued, running: row.running, done: row.done, failed: row.failed, closed: row.closed };
}
