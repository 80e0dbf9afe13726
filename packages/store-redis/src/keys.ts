/** Where a Mageflow record and its swarm state live in Redis, under a prefix. */
export class KeySpace {
  constructor(readonly prefix: string) {}

  record = (key: string) => `${this.prefix}:rec:${key}`;
  lock = (key: string) => `${this.prefix}:lock:${key}`;
  audit = (key: string) => `${this.prefix}:audit:${key}`;
  readonly open = () => `${this.prefix}:open`;
  readonly workers = () => `${this.prefix}:workers`;

  swarm(key: string) {
    const base = `${this.prefix}:sw:${key}`;
    return { state: `${base}:s`, queue: `${base}:q`, members: `${base}:m`, results: `${base}:res` };
  }

  /** Every key a record owns besides its lock: the record and (for swarms) the swarm state. */
  owned(key: string): string[] {
    const s = this.swarm(key);
    return [this.record(key), s.state, s.queue, s.members, s.results];
  }
}
