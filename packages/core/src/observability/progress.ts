/**
 * How far a chain or swarm got, and when it will likely end: counts of its members by
 * state, and an ETA from the rate observed since it became active.
 */
import type { SignatureRecord } from '../model/record';
import { isFinished } from '../model/status';
import type { Store, SwarmCounts, TimelineEntry } from '../ports/store';

export interface Progress {
  total: number;
  done: number;
  failed: number;
  running: number;
  queued: number;
  /** (done + failed) / total, 0..1. */
  fraction: number;
  /** when it first became active (ms epoch). */
  startedAt?: number;
  /** members ended per second since then. */
  ratePerSec?: number;
  /** ms until every member has ended at that rate (absent until one has ended, or once it has ended). */
  etaMs?: number;
}

export async function progressOf(store: Store, record: SignatureRecord, timeline: readonly TimelineEntry[], counts?: SwarmCounts): Promise<Progress> {
  let c: Omit<Progress, 'fraction'>;
  // Chains and graphs keep their counters in the store as swarms do: O(1), whatever their size.
  const s = counts ?? (await store.swarmCounts(record.key));
  if (record.kind === 'swarm') {
    c = { total: s.total, done: s.done, failed: s.failed, running: s.running, queued: s.queued };
  } else {
    const total = record.members?.length ?? 0;
    c = { total, done: s.done, failed: s.failed, running: s.running, queued: Math.max(0, total - s.done - s.failed - s.running) };
  }
  const ended = c.done + c.failed;
  const progress: Progress = { ...c, fraction: c.total === 0 ? 0 : ended / c.total };
  const started = timeline.find((e) => e.status === 'active');
  if (!started) return progress;
  progress.startedAt = started.at;
  const until = isFinished(record.status) ? (timeline.at(-1)?.at ?? Date.now()) : Date.now();
  const seconds = Math.max(0.001, (until - started.at) / 1000);
  if (ended > 0) {
    progress.ratePerSec = ended / seconds;
    if (!isFinished(record.status) && c.total > ended) progress.etaMs = Math.round(((c.total - ended) / progress.ratePerSec) * 1000);
  }
  return progress;
}
