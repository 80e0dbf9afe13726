/**
 * The `mageflow` binary, run as a user runs it (a child process with arguments), against
 * a dashboard served by a worker in this test process, and straight on Redis.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessEngine, Mageflow, withCtx, type TaskContext } from '@mageflow/core';
import { serveDashboard, type RunningDashboard } from '@mageflow/dashboard';
import { RedisStore } from '@mageflow/store-redis';
import { uniqueId, waitUntil } from '@mageflow/testing';

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(__dirname, '..', 'dist', 'cli.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(() => {
  // `npm test` builds first; a jest run on its own builds what the binary needs
  for (const pkg of ['core', 'store-redis', 'cli']) {
    if (!existsSync(join(ROOT, 'packages', pkg, 'dist', pkg === 'cli' ? 'cli.js' : 'index.js'))) {
      spawnSync('npx', ['tsup'], { cwd: join(ROOT, 'packages', pkg), stdio: 'inherit' });
    }
  }
}, 180_000);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mageflow(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `mageflow` whose output can be read while it runs. */
function start(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args]);
  const out = { text: '', err: '' };
  child.stdout.on('data', (d) => (out.text += d));
  child.stderr.on('data', (d) => (out.err += d));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { out, closed, stop: () => child.kill('SIGINT') };
}

describe('mageflow, through a dashboard', () => {
  let mf: Mageflow;
  let dash: RunningDashboard;
  let url: string[];
  const waiting: (() => void)[] = [];

  beforeAll(async () => {
    mf = new Mageflow({ engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    dash = await serveDashboard(mf, { port: 0, print: null });
    url = ['--url', dash.url];
  });
  afterAll(async () => {
    waiting.splice(0).forEach((go) => go());
    await dash.close();
    await mf.stop();
  });

  it('lists, shows, draws the tree and prints logs, for people and as JSON, without colours off a terminal', async () => {
    const step = mf.task('cli-step', withCtx(async (n: number, ctx: TaskContext) => (ctx.log.warn('stepping', { n }), n + 1)));
    const chain = await mf.chain([step, step], { name: 'cli chain' });
    await chain.run(1, { timeoutMs: 10_000 });

    const ls = await mageflow(['ls', ...url, '--json']);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout).items.map((i: { key: string }) => i.key)).toContain(chain.key);
    const human = await mageflow(['ls', ...url, '--text', 'cli chain']);
    expect(human.stdout).toContain(chain.key);
    expect(human.stdout).toMatch(/^done\s+chain\s+cli chain/m);
    expect(human.stdout).not.toContain('\x1b[');

    const show = await mageflow(['show', chain.key, ...url, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ key: chain.key, status: 'done', result: 3 });
    expect((await mageflow(['show', chain.key, ...url])).stdout).toMatch(/result\s+3/);

    const tree = await mageflow(['tree', chain.key, ...url]);
    expect(tree.stdout.split('\n').filter((l) => l.includes('cli-step [done]'))).toHaveLength(2);
    expect(JSON.parse((await mageflow(['tree', chain.key, ...url, '--json'])).stdout).children).toHaveLength(2);

    const logs = await mageflow(['logs', chain.key, ...url, '--tree', '--json']);
    expect(logs.stdout.trim().split('\n').map((l) => JSON.parse(l).fields)).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await mageflow(['logs', chain.key, ...url, '--tree', '--level', 'error'])).stdout).toBe('');

    const missing = await mageflow(['show', 'nothing-here', ...url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SIGNATURE_NOT_FOUND');
    expect((await mageflow(['frobnicate', ...url])).code).toBe(2);
    const unreachable = await mageflow(['ls', '--url', 'http://127.0.0.1:1', '--json']);
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.stdout)).toMatchObject({ ok: false, error: { code: 'UNREACHABLE' } });
  });

  it('follows logs with -f and watches a swarm to its end with a progress line per change', async () => {
    const item = mf.task('cli-item', withCtx(async (_: unknown, ctx: TaskContext) => {
      await new Promise<void>((resolve) => waiting.push(resolve));
      ctx.log.info('item finished');
      return 1;
    }));
    const swarm = await mf.swarm(Array.from({ length: 6 }, () => item), { name: 'cli swarm', config: { maxConcurrency: 2 } });
    await swarm.close();
    await swarm.runNoWait({});
    await waitUntil(() => waiting.length === 2, 'two members running');

    const watcher = start(['watch', swarm.key, ...url, '--json']);
    const follower = start(['logs', swarm.key, ...url, '--tree', '-f']);
    await waitUntil(() => watcher.out.text.includes('"status":"active"'), 'the first progress line');
    await new Promise((r) => setTimeout(r, 300)); // the follower subscribes
    while ((await swarm.counts()).done < 6) {
      waiting.shift()?.();
      await new Promise((r) => setTimeout(r, 300)); // one change at a time, each redrawn
    }
    expect(await watcher.closed).toBe(0);
    const lines = watcher.out.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ status: 'done', progress: { total: 6, done: 6, fraction: 1 } });
    expect(new Set(lines.map((l) => l.progress.fraction)).size).toBeGreaterThan(2);
    await waitUntil(() => follower.out.text.split('item finished').length - 1 === 6, 'six followed log lines');
    follower.stop();
    expect(await follower.closed).toBe(0);
  });

  it('suspends, resumes, cancels only with --yes, retries a failed task, and runs a task with checked input', async () => {
    const idle = mf.task('cli-idle', () => 'idle', { input: { type: 'object', properties: { n: { type: 'number' } } } as never });
    let fail = true;
    const shaky = mf.task('cli-shaky', () => {
      if (fail) throw new Error('down');
      return 'up';
    });
    const sig = await mf.sign(idle);
    expect((await mageflow(['suspend', sig.key, ...url])).stdout).toBe(`suspend: ${sig.key}\n`);
    expect((await mf.load(sig.key))!.status).toBe('suspended');
    expect((await mageflow(['resume', sig.key, ...url, '--json'])).stdout).toContain('"ok": true');
    const unconfirmed = await mageflow(['cancel', sig.key, ...url]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('CONFIRMATION_REQUIRED');
    expect(await mf.load(sig.key)).not.toBeNull();
    expect((await mageflow(['cancel', sig.key, ...url, '--yes'])).code).toBe(0);
    expect(await mf.load(sig.key)).toBeNull();

    const failed = await mf.sign(shaky);
    await expect(failed.run({}, { timeoutMs: 10_000 })).rejects.toThrow('down');
    fail = false;
    const retried = JSON.parse((await mageflow(['retry', failed.key, ...url, '--json'])).stdout);
    await waitUntil(async () => (await mf.load(retried.retriedAs))?.status === 'done', 'the retry done');

    const bad = await mageflow(['run', 'cli-idle', '--input', '{"n":"x"}', ...url, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error.code).toBe('INVALID_INPUT');
    expect((await mageflow(['run', 'cli-idle', '--input', '{not json', ...url])).code).toBe(2);
    const ran = JSON.parse((await mageflow(['run', 'cli-idle', '--input', '{"n":1}', ...url, '--json'])).stdout);
    await waitUntil(async () => (await mf.load(ran.key))?.status === 'done', 'the started task done');
  });
});

const redisUp = spawnSync('redis-cli', ['-u', REDIS_URL, 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
if (!redisUp && process.env.CI) throw new Error(`Redis is required in CI but ${REDIS_URL} is unreachable`);
(redisUp ? describe : describe.skip)('mageflow, straight on Redis', () => {
  it('reads and follows, and refuses to act', async () => {
    const prefix = uniqueId('mf-test-cli');
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const mf = new Mageflow({ store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    try {
      const task = mf.task('cli-redis', () => 'ok');
      const sig = await mf.sign(task, { kwargs: { where: 'redis' } });
      const where = ['--redis', REDIS_URL, '--prefix', prefix];
      const ls = await mageflow(['ls', ...where, '--json']);
      expect(JSON.parse(ls.stdout).items.map((i: { key: string }) => i.key)).toEqual([sig.key]);
      expect(JSON.parse((await mageflow(['show', sig.key, ...where, '--json'])).stdout)).toMatchObject({ kwargs: { where: 'redis' }, status: 'pending' });
      const refused = await mageflow(['suspend', sig.key, ...where]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('READ_ONLY');
    } finally {
      const keys = await store.redis.keys(`${prefix}:*`);
      if (keys.length) await store.redis.del(...keys);
      await mf.close();
    }
  });
});
