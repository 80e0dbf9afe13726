/**
 * The lifecycle state machine: pure, no I/O. `decide(record, event)` returns the
 * record's next status and the effects the runtime must carry out, or throws the
 * typed error a caller should see. The table below is the whole of it.
 */
import { InvalidTransitionError, TaskAlreadyRunningError } from '../errors';
import type { SignatureRecord } from './record';
import type { Status } from './status';

/** What can happen to a signature: user operations and engine run events. */
export type Operation =
  | 'run' // user: start it (runNoWait/run)
  | 'begin' // engine: a run of it was delivered to a worker
  | 'succeed' // engine: its body returned
  | 'fail' // engine: its body failed for the last time
  | 'suspend'
  | 'interrupt'
  | 'resume'
  | 'cancel'
  | 'remove';
export const OPERATIONS: readonly Operation[] = [
  'run', 'begin', 'succeed', 'fail', 'suspend', 'interrupt', 'resume', 'cancel', 'remove',
];

/** What the runtime does after the status change is stored. */
export type Effect =
  | 'dispatch' // task: hand it to the engine; container: start its first members
  | 'runBody' // go on and run the task body
  | 'skipRun' // end the delivered run without running the body
  | 'holdMessage' // keep the delivered message so resume can replay it, then end the run
  | 'settle' // fire callbacks and notify the parent container (idempotent)
  | 'stopRun' // cancel the engine run now: the body's AbortSignal fires
  | 'suspendMembers' // container: hold members that have not started
  | 'interruptMembers' // container: interrupt members that are running or due
  | 'resumeMembers' // container: resume held members
  | 'continue' // container: dispatch whatever is due (chain cursor, free swarm slots)
  | 'replay' // task: dispatch again from the held message, if it was ever dispatched
  | 'deleteTree' // cancel: stop runs, delete it with members and callbacks, write the audit record
  | 'resetTree' // rerun of a finished container: members and callbacks back to pending (before it starts again)
  | 'markTree'; // remove: mark it, its members and its callbacks for deletion

type To = Status | 'same' | 'last';
type Outcome = { to: To; effects: readonly Effect[] } | { error: 'invalid' | 'running' };
type Rule = Outcome | { task: Outcome; container: Outcome };

const go = (to: To, ...effects: Effect[]): Outcome => ({ to, effects });
const invalid: Outcome = { error: 'invalid' };
const byKind = (task: Outcome, container: Outcome): Rule => ({ task, container });

// prettier-ignore
const TABLE: Record<Status, Record<Operation, Rule>> = {
  //            run                                                   begin                    succeed               fail                  suspend                                                    interrupt                                                        resume                                                  cancel                          remove
  pending:     { run: byKind(go('same', 'dispatch'), go('active', 'dispatch')), begin: byKind(go('active', 'runBody'), invalid), succeed: go('same'), fail: go('same'), suspend: go('suspended'), interrupt: go('interrupted', 'interruptMembers'), resume: go('same'), cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  active:      { run: invalid, begin: byKind(go('same', 'runBody'), invalid), succeed: go('done', 'settle'), fail: go('failed', 'settle'), suspend: byKind({ error: 'running' }, go('suspended', 'suspendMembers')), interrupt: byKind(go('interrupted', 'stopRun'), go('interrupted', 'interruptMembers')), resume: go('same'), cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  suspended:   { run: byKind(go('same', 'holdMessage'), invalid), begin: go('same', 'holdMessage'), succeed: go('same'), fail: go('same'), suspend: go('same'), interrupt: go('interrupted', 'interruptMembers'), resume: byKind(go('last', 'replay'), go('last', 'resumeMembers', 'continue')), cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  interrupted: { run: byKind(go('same', 'holdMessage'), invalid), begin: go('same', 'holdMessage'), succeed: go('same'), fail: go('same'), suspend: invalid, interrupt: go('same'), resume: byKind(go('last', 'replay'), go('last', 'resumeMembers', 'continue')), cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  done:        { run: invalid, begin: go('same', 'skipRun', 'settle'), succeed: go('same'), fail: go('same'), suspend: invalid, interrupt: invalid, resume: invalid, cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  failed:      { run: invalid, begin: go('same', 'skipRun', 'settle'), succeed: go('same'), fail: go('same'), suspend: invalid, interrupt: invalid, resume: invalid, cancel: go('canceled', 'deleteTree'), remove: go('marked_for_deletion', 'markTree') },
  canceled:    { run: invalid, begin: go('same', 'skipRun'), succeed: go('same'), fail: go('same'), suspend: invalid, interrupt: invalid, resume: invalid, cancel: go('same'), remove: invalid },
  marked_for_deletion: { run: byKind(go('pending', 'dispatch'), go('active', 'resetTree', 'dispatch')), begin: go('same', 'skipRun'), succeed: go('same', 'settle'), fail: go('same', 'settle'), suspend: invalid, interrupt: invalid, resume: byKind(go('last'), go('last', 'continue')), cancel: go('canceled', 'deleteTree'), remove: go('same') },
};

export interface Decision {
  /** the status to store; equal to the current one when nothing changes. */
  status: Status;
  /** the status resume() will restore. */
  lastStatus: Status | undefined;
  effects: readonly Effect[];
}

/** What a removed signature may have been for run() to run it again within its deletion window. */
const RERUNNABLE: readonly Status[] = ['pending', 'done', 'failed'];

/** The only states from which resume() goes back: the live ones. */
const LIVE: readonly Status[] = ['pending', 'active'];

export interface DecideContext {
  /** the engine run and attempt that reported `begin`/`succeed`/`fail`; compared with the stored ones. */
  runId?: string;
  attempt?: number;
}

export function decide(record: SignatureRecord, op: Operation, context: DecideContext = {}): Decision {
  const entry = TABLE[record.status][op];
  const rule: Outcome = 'task' in entry ? (record.kind === 'task' ? entry.task : entry.container) : entry;
  if ('error' in rule) throw refusal(record, op, rule.error);

  // Run events from a run other than the one that holds the signature are stale:
  // a duplicate delivery, or a body that outlived an interrupt. They change nothing.
  // A retry of the holding run (same run, later attempt) may begin again; only the
  // attempt that holds it may end it.
  const otherRun = context.runId !== undefined && record.runId !== undefined && record.runId !== context.runId;
  const otherAttempt = context.attempt !== undefined && record.attempt !== undefined && record.attempt !== context.attempt;
  const ending = op === 'succeed' || op === 'fail';
  if ((ending && (otherRun || otherAttempt)) || (op === 'begin' && otherRun && record.status !== 'pending')) {
    return { status: record.status, lastStatus: record.lastStatus, effects: op === 'begin' ? ['skipRun'] : [] };
  }
  if (record.status === 'marked_for_deletion' && (op === 'succeed' || op === 'fail')) {
    // A run already going when the signature was marked completes normally.
    if (record.lastStatus !== 'active') return { status: record.status, lastStatus: record.lastStatus, effects: [] };
    return { status: record.status, lastStatus: op === 'succeed' ? 'done' : 'failed', effects: rule.effects };
  }
  if (op === 'run' && record.status === 'marked_for_deletion' && !RERUNNABLE.includes(record.lastStatus ?? 'pending')) {
    // The rerun window is for signatures that never ran or have ended, of every kind.
    throw new InvalidTransitionError(`cannot run ${describe(record)}: it was ${record.lastStatus} when removed; resume() undoes the removal`, {
      details: { key: record.key, status: record.status, op },
    });
  }
  if (op === 'run' && record.kind === 'task' && record.status === 'pending' && record.dispatchedAt !== undefined) {
    throw new InvalidTransitionError(`${describe(record)} was already dispatched; it cannot run twice`, {
      details: { key: record.key, status: record.status, op },
    });
  }

  const status = rule.to === 'same' ? record.status : rule.to === 'last' ? restoreTarget(record) : rule.to;
  const leavesLive = LIVE.includes(record.status) && status !== record.status;
  const marking = status === 'marked_for_deletion' && record.status !== status;
  const lastStatus = leavesLive || marking ? record.status : record.lastStatus;
  return { status, lastStatus, effects: rule.effects };
}

/** resume() goes back to the live status the signature left; never to a paused one. */
function restoreTarget(record: SignatureRecord): Status {
  const last = record.lastStatus ?? 'pending';
  // A task interrupted while running has no run left: it goes back to pending and is
  // dispatched again; it is `active` once that run begins.
  if (record.kind === 'task' && last === 'active' && record.status !== 'marked_for_deletion') return 'pending';
  return last;
}

function refusal(record: SignatureRecord, op: Operation, kind: 'invalid' | 'running'): Error {
  const details = { key: record.key, status: record.status, op };
  if (kind === 'running') {
    return new TaskAlreadyRunningError(`${describe(record)} is already running; use interrupt() to stop it`, { details });
  }
  return new InvalidTransitionError(`cannot ${op} ${describe(record)}: it is ${record.status}`, { details });
}

function describe(record: SignatureRecord): string {
  return `${record.kind} "${record.key}"`;
}
