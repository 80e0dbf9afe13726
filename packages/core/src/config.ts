import { InvalidArgumentError } from './errors';
import type { Kind } from './model/status';

/** Time to live of one signature type, in seconds; unset fields fall back to the general values. */
export interface SignatureTtlConfig {
  activeTtl?: number;
  ttlWhenSignDone?: number;
}

/** How long stored signatures live, in seconds. */
export interface TtlConfig {
  /** while in use. Default 86400 (24 h). */
  activeTtl?: number;
  /** after they finish (done or failed). Default 300 (5 min). */
  doneTtl?: number;
  task?: SignatureTtlConfig;
  chain?: SignatureTtlConfig;
  swarm?: SignatureTtlConfig;
  graph?: SignatureTtlConfig;
}

/** How task functions are called: `fn(input)`, `fn(input, ctx)` or `fn(ctx)`. */
export type ParamConfig = 'NO_CTX' | 'ALL' | 'CTX_ONLY';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface MageflowConfig {
  ttl?: TtlConfig;
  paramConfig?: ParamConfig;
  /** how long cancel()'s audit records outlive what they describe, in seconds. Default 7 days. */
  auditTtl?: number;
  /** how often a worker marks itself alive, in ms. Default 2000. */
  heartbeatMs?: number;
  /** a worker silent this long is dead and its runs are taken over, in ms. Default 10000. */
  workerTtlMs?: number;
  /** how often a started worker sweeps for work lost by dead workers and for expired deletions; false: never. Default 15000. */
  sweepEveryMs?: number | false;
  /** sweep once when the worker starts (auto-resume after a restart). Default true. */
  recoverOnStart?: boolean;
  /** how long runtime steps wait for a locked signature before failing, in ms. Default 30000. */
  lockWaitMs?: number;
  /** default lock lease, in ms. Default 30000. */
  lockLeaseMs?: number;
  /** an id for this process's worker; default host:pid:random. */
  workerId?: string;
  logger?: Logger;
  /**
   * Most members a swarm whose results are one list (`results: 'list'`, the default) may
   * hold: adding past it is a `TooManyResultsError`, and a swarm that still gets there
   * fails with it rather than load its results into one process. Default 100,000.
   */
  maxListResults?: number;
}

export interface ResolvedConfig {
  ttl: Required<Pick<TtlConfig, 'activeTtl' | 'doneTtl'>> & Pick<TtlConfig, Kind>;
  paramConfig: ParamConfig;
  auditTtl: number;
  heartbeatMs: number;
  workerTtlMs: number;
  sweepEveryMs: number | false;
  recoverOnStart: boolean;
  lockWaitMs: number;
  lockLeaseMs: number;
  logger: Logger;
  maxListResults: number;
}

/** See `MageflowConfig.maxListResults`. */
export const DEFAULT_MAX_LIST_RESULTS = 100_000;

export const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, fields) => console.warn(`[mageflow] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[mageflow] ${message}`, fields ?? ''),
};

export function resolveConfig(config: MageflowConfig = {}): ResolvedConfig {
  if (typeof config !== 'object' || config === null) throw new InvalidArgumentError(`config must be an object, got ${String(config)}`);
  const ttl = config.ttl ?? {};
  const resolved: ResolvedConfig = {
    ttl: { activeTtl: ttl.activeTtl ?? 86_400, doneTtl: ttl.doneTtl ?? 300, task: ttl.task, chain: ttl.chain, swarm: ttl.swarm, graph: ttl.graph },
    paramConfig: config.paramConfig ?? 'NO_CTX',
    auditTtl: config.auditTtl ?? 7 * 86_400,
    heartbeatMs: config.heartbeatMs ?? 2000,
    workerTtlMs: config.workerTtlMs ?? 10_000,
    sweepEveryMs: config.sweepEveryMs ?? 15_000,
    recoverOnStart: config.recoverOnStart ?? true,
    lockWaitMs: config.lockWaitMs ?? 30_000,
    lockLeaseMs: config.lockLeaseMs ?? 30_000,
    logger: config.logger ?? quietLogger,
    maxListResults: config.maxListResults ?? DEFAULT_MAX_LIST_RESULTS,
  };
  const positive = (name: string, value: unknown, unit: string, min?: number) => {
    const ok = typeof value === 'number' && Number.isFinite(value) && (min === undefined ? value > 0 : value >= min);
    if (!ok) {
      const bound = min === undefined ? 'above 0' : `at least ${min}`;
      throw new InvalidArgumentError(`config ${name} must be a number of ${unit} ${bound}, got ${String(value)}`, { details: { field: name, value } });
    }
  };
  positive('ttl.activeTtl', resolved.ttl.activeTtl, 'seconds');
  positive('ttl.doneTtl', resolved.ttl.doneTtl, 'seconds');
  for (const kind of ['task', 'chain', 'swarm', 'graph'] as const) {
    const own = resolved.ttl[kind];
    if (own === undefined) continue;
    if (typeof own !== 'object' || own === null) throw new InvalidArgumentError(`config ttl.${kind} must be an object, got ${String(own)}`);
    if (own.activeTtl !== undefined) positive(`ttl.${kind}.activeTtl`, own.activeTtl, 'seconds');
    if (own.ttlWhenSignDone !== undefined) positive(`ttl.${kind}.ttlWhenSignDone`, own.ttlWhenSignDone, 'seconds');
  }
  positive('auditTtl', resolved.auditTtl, 'seconds');
  // Below 10 ms a heartbeat or sweep timer is a busy loop, not a schedule.
  positive('heartbeatMs', resolved.heartbeatMs, 'milliseconds', 10);
  positive('workerTtlMs', resolved.workerTtlMs, 'milliseconds', 10);
  if (resolved.workerTtlMs <= resolved.heartbeatMs) {
    throw new InvalidArgumentError(`config workerTtlMs (${resolved.workerTtlMs}) must be longer than heartbeatMs (${resolved.heartbeatMs}), or live workers are taken for dead`, {
      details: { field: 'workerTtlMs' },
    });
  }
  if (resolved.sweepEveryMs !== false) positive('sweepEveryMs', resolved.sweepEveryMs, 'milliseconds (or false)', 10);
  positive('lockWaitMs', resolved.lockWaitMs, 'milliseconds', 0);
  positive('lockLeaseMs', resolved.lockLeaseMs, 'milliseconds', 10);
  if (!Number.isInteger(resolved.maxListResults) || resolved.maxListResults < 1) {
    throw new InvalidArgumentError(`config maxListResults must be a positive integer, got ${String(resolved.maxListResults)}`, { details: { field: 'maxListResults' } });
  }
  if (typeof resolved.recoverOnStart !== 'boolean') throw new InvalidArgumentError(`config recoverOnStart must be true or false, got ${String(resolved.recoverOnStart)}`);
  if (config.workerId !== undefined && (typeof config.workerId !== 'string' || config.workerId.length === 0)) {
    throw new InvalidArgumentError(`config workerId must be a non-empty string, got ${String(config.workerId)}`);
  }
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof resolved.logger?.[level] !== 'function') throw new InvalidArgumentError(`config logger must have a ${level}() method`);
  }
  if (!['NO_CTX', 'ALL', 'CTX_ONLY'].includes(resolved.paramConfig)) {
    throw new InvalidArgumentError(`config paramConfig must be NO_CTX, ALL or CTX_ONLY, got ${String(resolved.paramConfig)}`);
  }
  return resolved;
}

/** Seconds a signature of this kind lives while in use, or after it finished. */
export function ttlFor(config: ResolvedConfig, kind: Kind, phase: 'active' | 'done'): number {
  const own = config.ttl[kind];
  return phase === 'active' ? own?.activeTtl ?? config.ttl.activeTtl : own?.ttlWhenSignDone ?? config.ttl.doneTtl;
}
