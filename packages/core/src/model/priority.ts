/**
 * A swarm member's priority. When a slot frees, the queued member of the highest
 * priority starts first; within a priority, members start in the order added.
 */
export const PRIORITIES = ['high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** What a member without a priority of its own (or its swarm's default) counts as. */
export const DEFAULT_PRIORITY: Priority = 'medium';

/** Claim order: rank 0 (high) first. Stores order their queues by it. */
export function priorityRank(priority: Priority | undefined): 0 | 1 | 2 {
  return priority === 'high' ? 0 : priority === 'low' ? 2 : 1;
}

/** The engine's scale (1 low .. 3 high), for engines that order their own queues. */
export function enginePriority(priority: Priority): 1 | 2 | 3 {
  return priority === 'high' ? 3 : priority === 'low' ? 1 : 2;
}

export function isPriority(value: unknown): value is Priority {
  return (PRIORITIES as readonly unknown[]).includes(value);
}
