/**
 * A swarm's results for its success callbacks: one list (`results: 'list'`, the default,
 * bounded by `config.maxListResults`), or a small handle the callback reads a page at a
 * time (`results: 'handle'`), so no process ever holds a million results at once.
 */
import { InvalidArgumentError, SignatureNotFoundError, TooManyResultsError, type ErrorInfo } from '../errors';
import type { SignatureRecord } from '../model/record';
import type { Store, SwarmCounts } from '../ports/store';

/**
 * What a `results: 'handle'` swarm hands its success callbacks (and the next step of a
 * chain) instead of its result list. Plain JSON: it is stored as the swarm's result.
 * Read it with `mf.swarmResults(handle)` while the swarm is kept (its `doneTtl`).
 */
export interface SwarmResultsHandle {
  type: 'swarm-results';
  /** the swarm's key. */
  swarm: string;
  /** members listed in the swarm (the positions to read). */
  members: number;
  /** results to read: the members that succeeded. */
  results: number;
}

/** Default number of member positions read per page by `mf.swarmResults`. */
export const RESULTS_PAGE = 1000;

export function isSwarmResultsHandle(value: unknown): value is SwarmResultsHandle {
  if (typeof value !== 'object' || value === null) return false;
  const h = value as Record<string, unknown>;
  const count = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  return h.type === 'swarm-results' && typeof h.swarm === 'string' && count(h.members) && count(h.results);
}

/** True when the swarm hands its callbacks one list, which must stay under the limit. */
export function listsResults(swarm: SignatureRecord): boolean {
  return swarm.kind === 'swarm' && swarm.swarm?.results !== 'handle';
}

/** Refuses, before anything is written, an add that takes a 'list' swarm past maxListResults. */
export function checkListResults(swarm: SignatureRecord, members: number, limit: number): void {
  if (!listsResults(swarm) || members <= limit) return;
  throw new TooManyResultsError(
    `swarm "${swarm.key}" would hold ${members} members; a swarm whose results are one list holds at most ${limit} (config.maxListResults): give it config: { results: 'handle' }`,
    { details: { key: swarm.key, members, limit } },
  );
}

/** The failure of a 'list' swarm that got past the limit anyway (racing adds, another worker's config). */
export function tooManyResults(counts: SwarmCounts, limit: number): ErrorInfo {
  return {
    name: 'TooManyResultsError',
    code: 'TOO_MANY_RESULTS',
    message: `${counts.done} results exceed maxListResults ${limit}: a swarm this large needs config: { results: 'handle' }`,
    attempts: 1,
  };
}

export function resultsHandle(swarm: string, counts: SwarmCounts): SwarmResultsHandle {
  return { type: 'swarm-results', swarm, members: counts.total, results: counts.done };
}

/**
 * The handle's results, in the order the members were added, a page (up to `pageSize`
 * member positions, so at most that many results) at a time; empty pages are skipped.
 * A swarm that is gone (expired, deleted) before every result was read is a
 * `SignatureNotFoundError`, never a short list taken for the whole.
 */
export async function* readSwarmResults(store: Store, handle: SwarmResultsHandle, pageSize = RESULTS_PAGE): AsyncGenerator<unknown[], void, undefined> {
  if (!isSwarmResultsHandle(handle)) {
    throw new InvalidArgumentError(`mf.swarmResults() takes the handle a swarm with results: 'handle' gives its callbacks, got ${JSON.stringify(handle)?.slice(0, 200)}`);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new InvalidArgumentError(`pageSize must be a positive integer, got ${String(pageSize)}`);
  let read = 0;
  for (let offset = 0; offset < handle.members; offset += pageSize) {
    const page = await store.swarmResults(handle.swarm, { offset, limit: Math.min(pageSize, handle.members - offset) });
    read += page.length;
    if (page.length > 0) yield page;
  }
  if (read !== handle.results) {
    throw new SignatureNotFoundError(`swarm "${handle.swarm}" is gone (expired or deleted): ${read} of its ${handle.results} results were readable`, {
      details: { key: handle.swarm, read, results: handle.results },
    });
  }
}
