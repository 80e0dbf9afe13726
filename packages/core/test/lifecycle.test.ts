/**
 * The pure state machine, exhaustively: every status x every operation, for a task
 * and for a container, against an expectation table written out independently.
 */
import { decide, InvalidTransitionError, OPERATIONS, STATUSES, TaskAlreadyRunningError, type Operation, type SignatureRecord, type Status } from '../src';

type Expect = string; // "next: effect effect" | "invalid" | "running"
const I = 'invalid';

// prettier-ignore
const TASK: Record<Status, Record<Operation, Expect>> = {
  pending:     { run: 'pending: dispatch', begin: 'active: runBody', succeed: 'pending:', fail: 'pending:', suspend: 'suspended:', interrupt: 'interrupted: interruptMembers', resume: 'pending:', cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  active:      { run: I, begin: 'active: runBody', succeed: 'done: settle', fail: 'failed: settle', suspend: 'running', interrupt: 'interrupted: stopRun', resume: 'active:', cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  suspended:   { run: 'suspended: holdMessage', begin: 'suspended: holdMessage', succeed: 'suspended:', fail: 'suspended:', suspend: 'suspended:', interrupt: 'interrupted: interruptMembers', resume: 'pending: replay', cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  interrupted: { run: 'interrupted: holdMessage', begin: 'interrupted: holdMessage', succeed: 'interrupted:', fail: 'interrupted:', suspend: I, interrupt: 'interrupted:', resume: 'pending: replay', cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  done:        { run: I, begin: 'done: skipRun settle', succeed: 'done:', fail: 'done:', suspend: I, interrupt: I, resume: I, cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  failed:      { run: I, begin: 'failed: skipRun settle', succeed: 'failed:', fail: 'failed:', suspend: I, interrupt: I, resume: I, cancel: 'canceled: deleteTree', remove: 'marked_for_deletion: markTree' },
  canceled:    { run: I, begin: 'canceled: skipRun', succeed: 'canceled:', fail: 'canceled:', suspend: I, interrupt: I, resume: I, cancel: 'canceled:', remove: I },
  marked_for_deletion: { run: 'pending: dispatch', begin: 'marked_for_deletion: skipRun', succeed: 'marked_for_deletion:', fail: 'marked_for_deletion:', suspend: I, interrupt: I, resume: 'pending:', cancel: 'canceled: deleteTree', remove: 'marked_for_deletion:' },
};

// prettier-ignore
const CONTAINER: Record<Status, Record<Operation, Expect>> = {
  pending:     { ...TASK.pending, run: 'active: dispatch', begin: I },
  active:      { ...TASK.active, begin: I, suspend: 'suspended: suspendMembers', interrupt: 'interrupted: interruptMembers' },
  suspended:   { ...TASK.suspended, run: I, resume: 'active: resumeMembers continue' },
  interrupted: { ...TASK.interrupted, run: I, resume: 'active: resumeMembers continue' },
  done:        TASK.done,
  failed:      TASK.failed,
  canceled:    TASK.canceled,
  // marked while active: what is running completes normally, and resume goes back to active
  marked_for_deletion: { ...TASK.marked_for_deletion, run: I, succeed: 'marked_for_deletion: settle', fail: 'marked_for_deletion: settle', resume: 'active: continue' },
};

function recordIn(status: Status, kind: SignatureRecord['kind']): SignatureRecord {
  // paused and marked signatures remember where they came from: a task from pending,
  // a container from active (the transitions the documentation lists).
  const lastStatus: Status | undefined = ['suspended', 'interrupted', 'marked_for_deletion'].includes(status) ? (kind === 'task' ? 'pending' : 'active') : undefined;
  return { key: `${kind}:k`, kind, taskName: 't', kwargs: {}, successCallbacks: [], errorCallbacks: [], status, creationTime: 0, ...(lastStatus ? { lastStatus } : {}) };
}

function outcome(record: SignatureRecord, op: Operation): Expect {
  try {
    const d = decide(record, op);
    return `${d.status}:${d.effects.map((e) => ` ${e}`).join('')}`;
  } catch (error) {
    if (error instanceof TaskAlreadyRunningError) return 'running';
    if (error instanceof InvalidTransitionError) return I;
    throw error;
  }
}

describe('lifecycle state machine', () => {
  for (const [kind, table] of [['task', TASK], ['chain', CONTAINER], ['swarm', CONTAINER]] as const) {
    describe(`${kind}`, () => {
      for (const status of STATUSES) {
        it.each(OPERATIONS.map((op) => [op]))(`${status} x %s`, (op) => {
          expect(outcome(recordIn(status, kind), op)).toBe(table[status][op]);
        });
      }
    });
  }

  it('covers every status and every operation', () => {
    expect(Object.keys(TASK).sort()).toEqual([...STATUSES].sort());
    for (const row of Object.values(TASK)) expect(Object.keys(row).sort()).toEqual([...OPERATIONS].sort());
  });

  describe('the rerun window', () => {
    it('run() reruns a removed signature that never ran or has ended, of every kind; a finished container is reset first', () => {
      expect(decide(recordIn('marked_for_deletion', 'task'), 'run')).toMatchObject({ status: 'pending', effects: ['dispatch'] });
      const doneTask = { ...recordIn('marked_for_deletion', 'task'), lastStatus: 'done' as const };
      expect(decide(doneTask, 'run')).toMatchObject({ status: 'pending', effects: ['dispatch'] });
      for (const kind of ['chain', 'swarm'] as const) {
        for (const last of ['done', 'failed', 'pending'] as const) {
          expect(decide({ ...recordIn('marked_for_deletion', kind), lastStatus: last }, 'run')).toMatchObject({ status: 'active', effects: ['resetTree', 'dispatch'] });
        }
      }
    });

    it('run() refuses a signature that was running or paused when removed: resume() undoes that removal', () => {
      for (const kind of ['task', 'chain', 'swarm'] as const) {
        for (const last of ['active', 'suspended', 'interrupted'] as const) {
          expect(() => decide({ ...recordIn('marked_for_deletion', kind), lastStatus: last }, 'run')).toThrow(/resume\(\) undoes the removal/);
        }
      }
    });
  });

  describe('remembers the status to resume to', () => {
    const task = (status: Status, extra: Partial<SignatureRecord> = {}) => ({ ...recordIn(status, 'task'), ...extra });

    it('pending -> suspend -> suspended -> resume -> pending', () => {
      const s = decide(task('pending'), 'suspend');
      expect(s).toMatchObject({ status: 'suspended', lastStatus: 'pending' });
      expect(decide(task('suspended', { lastStatus: s.lastStatus }), 'resume').status).toBe('pending');
    });

    it('a task interrupted while running resumes as pending and is sent again (active once its new run begins)', () => {
      const i = decide(task('active'), 'interrupt');
      expect(i).toMatchObject({ status: 'interrupted', lastStatus: 'active', effects: ['stopRun'] });
      expect(decide(task('interrupted', { lastStatus: 'active' }), 'resume')).toMatchObject({ status: 'pending', effects: ['replay'] });
    });

    it('a container goes active -> suspended -> active', () => {
      const chain = { ...recordIn('active', 'chain') };
      const s = decide(chain, 'suspend');
      expect(s).toMatchObject({ status: 'suspended', lastStatus: 'active' });
      expect(decide({ ...chain, status: 'suspended', lastStatus: 'active' }, 'resume').status).toBe('active');
    });

    it('interrupting a suspended signature keeps the live status it left', () => {
      expect(decide(task('suspended', { lastStatus: 'pending' }), 'interrupt')).toMatchObject({ status: 'interrupted', lastStatus: 'pending' });
    });

    it('remove remembers any status, so resume undoes it', () => {
      expect(decide(task('done'), 'remove')).toMatchObject({ status: 'marked_for_deletion', lastStatus: 'done' });
      expect(decide(task('marked_for_deletion', { lastStatus: 'done' }), 'resume').status).toBe('done');
    });
  });

  describe('run events from other runs change nothing', () => {
    const active = { ...recordIn('active', 'task'), runId: 'r1', attempt: 2 };

    it('a late result of another run or an earlier attempt is ignored', () => {
      expect(decide(active, 'succeed', { runId: 'r0', attempt: 1 })).toMatchObject({ status: 'active', effects: [] });
      expect(decide(active, 'fail', { runId: 'r1', attempt: 1 })).toMatchObject({ status: 'active', effects: [] });
      expect(decide(active, 'succeed', { runId: 'r1', attempt: 2 })).toMatchObject({ status: 'done', effects: ['settle'] });
    });

    it('a duplicate delivery is turned away; a retry of the holding run goes on', () => {
      expect(decide(active, 'begin', { runId: 'other', attempt: 1 }).effects).toEqual(['skipRun']);
      expect(decide(active, 'begin', { runId: 'r1', attempt: 3 }).effects).toEqual(['runBody']);
    });

    it('an interrupted signature is never overwritten by its old run', () => {
      const interrupted = { ...active, status: 'interrupted' as const, lastStatus: 'active' as const };
      expect(decide(interrupted, 'succeed', { runId: 'r1', attempt: 2 })).toMatchObject({ status: 'interrupted', effects: [] });
    });
  });

  describe('a run going on when its signature is marked for deletion', () => {
    it('completes normally: result kept, callbacks fired', () => {
      const marked = { ...recordIn('marked_for_deletion', 'task'), lastStatus: 'active' as const, runId: 'r1', attempt: 1 };
      expect(decide(marked, 'succeed', { runId: 'r1', attempt: 1 })).toMatchObject({ status: 'marked_for_deletion', lastStatus: 'done', effects: ['settle'] });
      expect(decide(marked, 'fail', { runId: 'r1', attempt: 1 })).toMatchObject({ lastStatus: 'failed', effects: ['settle'] });
    });
  });

  it('refuses to run an already dispatched task twice', () => {
    expect(() => decide({ ...recordIn('pending', 'task'), dispatchedAt: 1 }, 'run')).toThrow(InvalidTransitionError);
  });

  it('errors carry the key, the status and the operation', () => {
    try {
      decide(recordIn('done', 'task'), 'suspend');
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidTransitionError);
      expect((error as InvalidTransitionError).details).toEqual({ key: 'task:k', status: 'done', op: 'suspend' });
      expect((error as Error).message).toBe('cannot suspend task "task:k": it is done');
    }
  });
});
