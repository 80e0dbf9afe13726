import Type from 'typebox';
import {
  CorruptRecordError,
  deepMerge,
  InvalidArgumentError,
  Mageflow,
  MageflowError,
  parseRecord,
  resolveConfig,
  SignatureNotFoundError,
  staggerExecution,
  TaskAlreadyRunningError,
  TooManyTasksError,
  ttlFor,
  UnrecognizedTaskError,
  withCtx,
  type TaskContext,
} from '../src';

describe('errors', () => {
  it('are MageflowErrors with a code, and match by class even across package copies', () => {
    const error = new TaskAlreadyRunningError('running');
    expect(error).toBeInstanceOf(MageflowError);
    expect(error).toBeInstanceOf(TaskAlreadyRunningError);
    expect(error).not.toBeInstanceOf(SignatureNotFoundError);
    expect(error.code).toBe('TASK_ALREADY_RUNNING');
    // a copy from another bundle carries the same global brand
    const foreign = Object.assign(Object.create(Error.prototype), { message: 'x' });
    Object.defineProperty(foreign, Symbol.for('@mageflow/core/error'), { value: 'TASK_ALREADY_RUNNING' });
    expect(foreign).toBeInstanceOf(TaskAlreadyRunningError);
    expect(foreign).toBeInstanceOf(MageflowError);
  });
});

describe('config', () => {
  it('defaults to 24 h active and 5 min done, with per-type overrides', () => {
    const config = resolveConfig({ ttl: { task: { activeTtl: 60 }, swarm: { ttlWhenSignDone: 900 } } });
    expect(ttlFor(config, 'task', 'active')).toBe(60);
    expect(ttlFor(config, 'task', 'done')).toBe(300);
    expect(ttlFor(config, 'chain', 'active')).toBe(86_400);
    expect(ttlFor(config, 'swarm', 'done')).toBe(900);
  });

  it('rejects nonsense with a typed error', () => {
    expect(() => resolveConfig({ ttl: { doneTtl: -1 } })).toThrow(InvalidArgumentError);
    expect(() => resolveConfig({ paramConfig: 'SOME' as never })).toThrow(InvalidArgumentError);
  });
});

describe('messages', () => {
  it('merges kwargs over the message, deeply, kwargs winning', () => {
    expect(deepMerge({ a: 1, o: { x: 1, y: 1 } }, { o: { y: 2 }, b: 3 })).toEqual({ a: 1, o: { x: 1, y: 2 }, b: 3 });
    expect(deepMerge(5, {})).toBe(5);
    expect(deepMerge([1], { a: 1 })).toEqual({ a: 1 });
  });
});

describe('records', () => {
  it('a foreign value is a CorruptRecordError naming the key', () => {
    expect(() => parseRecord({ key: 'k', kind: 'nonsense' }, 'task:abc')).toThrow(CorruptRecordError);
    expect(() => parseRecord('junk', 'task:abc')).toThrow(/task:abc/);
  });
});

describe('the client', () => {
  it('calls tasks as paramConfig says', async () => {
    for (const [paramConfig, expected] of [
      ['NO_CTX', 1],
      ['ALL', 2],
      ['CTX_ONLY', 1],
    ] as const) {
      const mf = new Mageflow({ config: { paramConfig } });
      let args: unknown[] = [];
      mf.task('t', async (...a: unknown[]) => ((args = a), 'ok'));
      await mf.sign('t').then((s) => s.run({ n: 1 }));
      expect(args).toHaveLength(expected);
      if (paramConfig === 'CTX_ONLY') expect((args[0] as TaskContext).input).toEqual({ n: 1 });
      else expect(args[0]).toEqual({ n: 1 });
      await mf.close();
    }
  });

  it('staggers a task start and extends its timeout by the stagger', async () => {
    // the stagger drawn near its top (396 of 400 ms): past the 300 ms timeout unless the timeout is
    // extended by it, with 300 ms to spare for a loaded machine
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.99);
    const mf = new Mageflow();
    try {
      let ctx: TaskContext | undefined;
      mf.task('late', staggerExecution(400)(withCtx(async (_: unknown, c: TaskContext) => ((ctx = c), 'ok'))), { timeoutMs: 300 });
      const started = Date.now();
      expect(await mf.sign('late').then((s) => s.run({}))).toBe('ok');
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(ctx?.attempt).toBe(1);
    } finally {
      random.mockRestore();
      await mf.close();
    }
  });

  it('a signature refused by a swarm (racing for its last place) is left as it was', async () => {
    const mf = new Mageflow();
    mf.task('t', async (x: unknown) => x);
    const swarm = await mf.swarm([], { config: { maxTaskAllowed: 1 } });
    const [a, b] = [await mf.sign('t'), await mf.sign('t')];
    // both pass the early size check, then race for the one place
    const outcomes = await Promise.allSettled([swarm.addTask(a), swarm.addTask(b)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const loser = outcomes[0]!.status === 'rejected' ? a : b;
    expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(TooManyTasksError);
    expect((await mf.load(loser.key))!.toJSON().parent).toBeUndefined();
    expect(await loser.run({ alone: true })).toEqual({ alone: true });
    await mf.close();
  });

  it('refuses unknown tasks and duplicate registrations', async () => {
    const mf = new Mageflow();
    mf.task('a', async () => 1);
    expect(() => mf.task('a', async () => 2)).toThrow(InvalidArgumentError);
    await expect(mf.sign('b')).rejects.toBeInstanceOf(UnrecognizedTaskError);
    // a task registered on another worker can be signed with its schema
    const sig = await mf.sign('remote', { inputSchema: Type.Object({ n: Type.Number() }), kwargs: { n: 1 } });
    expect(sig.taskName).toBe('remote');
    await mf.close();
  });
});
