/** Where a Mageflow record and its swarm state live in Redis, under a prefix. */
export class KeySpace {
  constructor(readonly prefix: string) {}

  record = (key: string) => `${this.prefix}:rec:${key}`;
  lock = (key: string) => `${this.prefix}:lock:${key}`;
  audit = (key: string) => `${this.prefix}:audit:${key}`;
  log = (key: string) => `${this.prefix}:log:${key}`;
  /** every record key, scored by creation time; and the same for records without a parent. */
  readonly index = () => `${this.prefix}:idx`;
  readonly rootIndex = () => `${this.prefix}:idx:root`;
  /** where the sweep of expired index entries goes on from (a rank). */
  readonly indexSweep = () => `${this.prefix}:idx:sweep`;
  /** the pub/sub channel of the change feed. */
  readonly feed = () => `${this.prefix}:feed`;
  readonly open = () => `${this.prefix}:open`;
  readonly workers = () => `${this.prefix}:workers`;

  swarm(key: string) {
    const base = `${this.prefix}:sw:${key}`;
    return { state: `${base}:s`, queue: `${base}:q`, members: `${base}:m`, results: `${base}:res` };
  }

  /** Every key a record owns besides its lock: the record, (for swarms) the swarm state, and its log. */
  owned(key: string): string[] {
    const s = this.swarm(key);
    return [this.record(key), s.state, s.queue, s.members, s.results, this.log(key)];
  }

  /** The swarm keys of a record, state first (a chain or swarm keeps its members there). */
  swarmKeys(key: string): string[] {
    const s = this.swarm(key);
    return [s.state, s.queue, s.members, s.results];
  }
}
