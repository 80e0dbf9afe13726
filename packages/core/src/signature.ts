/**
 * Handles on stored signatures. A handle holds the record as last read; the
 * lifecycle methods act on the stored one and refresh the handle.
 */
import { checkInput } from './arguments';
import { ConfirmationRequiredError, InvalidArgumentError, SignatureNotFoundError, type ErrorInfo } from './errors';
import { decodeValue } from './model/values';
import type { Priority } from './model/priority';
import type { SignatureRecord, SwarmConfig } from './model/record';
import type { Kind, Status } from './model/status';
import type { SwarmCounts } from './ports/store';
import type { RemoveOptions } from './runtime/lifecycle';
import type { Mageflow, MemberInput, SignatureInput, SignOptions } from './client';

export interface RunOptions {
  /** give up waiting after this many ms (WaitTimeoutError); the run goes on. Default: no limit. */
  timeoutMs?: number;
}

export class Signature {
  /** @internal */
  constructor(
    protected readonly mf: Mageflow,
    protected record: SignatureRecord,
  ) {}

  get key(): string {
    return this.record.key;
  }
  get kind(): Kind {
    return this.record.kind;
  }
  get taskName(): string {
    return this.record.taskName;
  }
  get name(): string | undefined {
    return this.record.name;
  }
  /** the bound kwargs (a fresh copy on each read). */
  get kwargs(): Readonly<Record<string, unknown>> {
    return decodeValue(this.record.kwargs) as Record<string, unknown>;
  }
  get creationTime(): Date {
    return new Date(this.record.creationTime);
  }
  get successCallbacks(): readonly string[] {
    return this.record.successCallbacks;
  }
  get errorCallbacks(): readonly string[] {
    return this.record.errorCallbacks;
  }
  /** cleanup signatures: started once when it ends, however it ends. */
  get cleanupCallbacks(): readonly string[] {
    return this.record.cleanupCallbacks ?? [];
  }
  /** why a cleanup after it failed (its task's cleanup function, or a cleanup signature); its outcome is unchanged. */
  get cleanupError(): ErrorInfo | undefined {
    return this.record.cleanupError;
  }
  /** its own priority, if it was given one (a swarm member without one counts as medium). */
  get priority(): Priority | undefined {
    return this.record.priority;
  }
  /** status as of the last read; `refresh()` reads it again. */
  get status(): Status {
    return this.record.status;
  }
  get lastStatus(): Status | undefined {
    return this.record.lastStatus;
  }
  /** the result, once done. */
  get result(): unknown {
    return decodeValue(this.record.result?.value);
  }
  /** a copy of the stored record as last read (values in their stored, encoded form). */
  toJSON(): SignatureRecord {
    return structuredClone(this.record);
  }

  async refresh(): Promise<this> {
    this.record = await this.mf.internals.load(this.key);
    return this;
  }

  /** Starts it and returns at once. */
  async runNoWait(message?: unknown): Promise<void> {
    await this.mf.runNoWait(this.key, message);
    await this.refresh().catch(() => this);
  }

  /** Starts it and waits for its result; a failure rejects with TaskFailedError. */
  async run(message?: unknown, options: RunOptions = {}): Promise<unknown> {
    await this.mf.runNoWait(this.key, message);
    return this.mf.waitFor(this.key, options);
  }

  /** Waits for the result of a run already started. */
  async wait(options: RunOptions = {}): Promise<unknown> {
    return this.mf.waitFor(this.key, options);
  }

  /** Holds it before it starts (a running task raises TaskAlreadyRunningError; containers stop dispatching). */
  async suspend(): Promise<void> {
    this.record = await this.mf.internals.operate(this.key, 'suspend');
  }

  /** Stops it now, even mid-run: the body's AbortSignal fires. Resuming is best effort. */
  async interrupt(): Promise<void> {
    this.record = await this.mf.internals.operate(this.key, 'interrupt');
  }

  /** Goes back to the status it had before suspend/interrupt (or remove), sending held runs again. */
  async resume(): Promise<void> {
    this.record = await this.mf.internals.operate(this.key, 'resume');
  }

  /** suspend (default) or interrupt. */
  async pause(type: 'suspend' | 'interrupt' = 'suspend'): Promise<void> {
    return type === 'suspend' ? this.suspend() : this.interrupt();
  }

  /** Stops it and deletes it with its members and callbacks, for good. Needs `{ confirm: true }`. */
  async cancel(options: { confirm?: boolean } = {}): Promise<void> {
    if (options.confirm !== true) {
      throw new ConfirmationRequiredError(`cancel() deletes "${this.key}" and its tree for good: call cancel({ confirm: true })`);
    }
    try {
      this.record = await this.mf.internals.operate(this.key, 'cancel');
    } catch (error) {
      // Repeating cancel is a no-op, like every repeated operation: the record is gone, the audit log says why.
      if (!(error instanceof SignatureNotFoundError && (await this.mf.internals.wasCanceled(this.key)))) throw error;
      this.record = { ...this.record, status: 'canceled' };
    }
  }

  /** Marks it (and its callbacks) for deletion after the done TTL; resume() or a new run within the window undoes it. */
  async remove(options: RemoveOptions = {}): Promise<void> {
    this.record = await this.mf.internals.operate(this.key, 'remove', options);
  }
}

export class TaskSignature extends Signature {}

export class ChainSignature extends Signature {
  /** member keys, in order. */
  get members(): readonly string[] {
    return this.record.members ?? [];
  }

  /** How far it got: members done, failed, running and still queued. */
  async counts(): Promise<SwarmCounts> {
    return this.mf.store.swarmCounts(this.key);
  }
}

export interface AddTasksOptions {
  /** records created per store call. Default 500. */
  batchSize?: number;
}

export class SwarmSignature extends Signature {
  get config(): SwarmConfig {
    return this.record.swarm ?? { maxConcurrency: 30 };
  }

  /** Adds one member; it starts as soon as a slot is free if the swarm runs. */
  async addTask(task: SignatureInput, options: SignOptions = {}): Promise<string> {
    checkInput(task, 'addTask(task)');
    const [key] = await this.mf.internals.addToSwarm(this.key, [{ task, options }], {});
    return key!;
  }

  /** Adds members all or none: every one is validated before any is added. */
  async addTasks(tasks: readonly MemberInput[], options: AddTasksOptions = {}): Promise<string[]> {
    if (!Array.isArray(tasks)) throw new InvalidArgumentError(`addTasks() takes a list of members`);
    return this.mf.internals.addToSwarm(this.key, tasks.map((t, i) => memberSpec(t, `member ${i}`)), options);
  }

  /** addTask, then run the swarm if it has not started. */
  async addTaskAndRun(task: SignatureInput, message?: unknown): Promise<string> {
    const key = await this.addTask(task);
    await this.runIfPending(message);
    return key;
  }

  /** addTasks, then run the swarm if it has not started. */
  async addTasksAndRun(tasks: readonly MemberInput[], message?: unknown, options: AddTasksOptions = {}): Promise<string[]> {
    const keys = await this.addTasks(tasks, options);
    await this.runIfPending(message);
    return keys;
  }

  /** Adds a member whose kwargs carry `message` (merged over the swarm's message), and runs the swarm if it has not started. */
  async runInSwarm(task: SignatureInput, message: Record<string, unknown>): Promise<string> {
    const key = await this.addTask(task, { kwargs: message });
    await this.runIfPending(undefined);
    return key;
  }

  /** Changes a queued member's priority (see `Mageflow.setPriority`); it must be a member of this swarm. */
  async setPriority(memberKey: string, priority: Priority): Promise<void> {
    await this.mf.internals.setPriority(memberKey, priority, this.key);
  }

  /** No member can be added any more; the swarm ends once every member has. */
  async close(): Promise<SwarmCounts> {
    return this.mf.internals.closeSwarm(this.key);
  }

  async counts(): Promise<SwarmCounts> {
    return this.mf.store.swarmCounts(this.key);
  }

  private async runIfPending(message: unknown) {
    await this.refresh();
    if (this.status === 'pending') await this.runNoWait(message);
  }
}

/** `{ task, kwargs, ... }` or a bare signature input; `where` names it in errors ("swarm member 3"). */
export function memberSpec(member: MemberInput, where = 'member'): { task: SignatureInput; options: SignOptions } {
  if (typeof member === 'object' && member !== null && !(member instanceof Signature) && 'task' in member && !('sign' in member)) {
    const { task, ...options } = member;
    checkInput(task, `${where} (its task)`);
    return { task, options };
  }
  checkInput(member, where);
  return { task: member as SignatureInput, options: {} };
}
