/**
 * Coalesces the runs dispatched to one Hatchet task into bulk triggers. Every trigger
 * call costs the engine a fixed amount of work (request decoding, id generation,
 * queries, a queue message or a scheduling pass) whatever its size, and a swarm
 * dispatches one member per finishing run: sent one by one, a 1,000-member swarm cost
 * PostgreSQL and the engine about half as much CPU again as the SDK's own bulk run of
 * the same runs. Runs added while a trigger is being prepared or while `maxInFlight`
 * triggers are outstanding go out together in the next one.
 */

/** What a trigger call returns: one run id per run sent, in order. */
export type Trigger<Run> = (runs: Run[]) => Promise<string[]>;

export interface TriggerBatcherOptions {
  /** runs in one trigger call at most. */
  maxBatch: number;
  /** trigger calls outstanding at once at most; later runs wait and go out together. */
  maxInFlight: number;
}

/** One caller's runs: its promise settles when all of them are sent, or the first batch holding one fails. */
interface Caller {
  ids: string[];
  missing: number;
  resolve(ids: string[]): void;
  reject(error: unknown): void;
  failed: boolean;
}

interface Queued<Run> {
  run: Run;
  caller: Caller;
  index: number;
}

export class TriggerBatcher<Run> {
  private queue: Queued<Run>[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  constructor(
    private readonly trigger: Trigger<Run>,
    private readonly options: TriggerBatcherOptions,
  ) {}

  /** Sends `runs` with whatever else is dispatched meanwhile; resolves with their run ids, in order. */
  send(runs: readonly Run[]): Promise<string[]> {
    if (runs.length === 0) return Promise.resolve([]);
    return new Promise<string[]>((resolve, reject) => {
      const caller: Caller = { ids: new Array<string>(runs.length), missing: runs.length, resolve, reject, failed: false };
      runs.forEach((run, index) => this.queue.push({ run, caller, index }));
      this.scheduleFlush();
    });
  }

  /**
   * At the end of the current event-loop turn, so the runs that every I/O callback of
   * this turn dispatches (many runs end at once) share a trigger.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight >= this.options.maxInFlight) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    // A caller that failed already is not sent the rest of its runs.
    this.queue = this.queue.filter((q) => !q.caller.failed);
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.sendBatch(batch).finally(() => {
        this.inFlight -= 1;
        if (this.queue.length > 0) this.scheduleFlush();
      });
    }
  }

  private async sendBatch(batch: Queued<Run>[]): Promise<void> {
    let ids: string[];
    try {
      ids = await this.trigger(batch.map((q) => q.run));
      if (ids.length !== batch.length) throw new Error(`Hatchet returned ${ids.length} run ids for ${batch.length} runs`);
    } catch (error) {
      // The trigger concerned exactly these runs: their callers fail, nobody else's.
      for (const { caller } of batch) {
        if (caller.failed) continue;
        caller.failed = true;
        caller.reject(error);
      }
      return;
    }
    batch.forEach(({ caller, index }, i) => {
      caller.ids[index] = ids[i]!;
      caller.missing -= 1;
      if (caller.missing === 0 && !caller.failed) caller.resolve(caller.ids);
    });
  }
}
