/** Every status a signature (task, chain, swarm or graph) can be in. */
export const STATUSES = [
  'pending',
  'active',
  'suspended',
  'interrupted',
  'canceled',
  'done',
  'failed',
  'marked_for_deletion',
] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses after which no run of the signature will start again. */
export const FINISHED: readonly Status[] = ['done', 'failed', 'canceled'];

export const KINDS = ['task', 'chain', 'swarm', 'graph'] as const;
export type Kind = (typeof KINDS)[number];

export function isFinished(status: Status): boolean {
  return FINISHED.includes(status);
}
