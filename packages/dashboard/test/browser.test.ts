/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core), on a
 * running workflow, on memory and on Redis: the list shows it, its graph has the right
 * nodes in the right colours, suspend changes the status on the page without a reload, a
 * log line written by a task appears live, the swarm's progress bar moves, and cancel asks
 * for confirmation. Screenshots of each view go to test-output/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessEngine, Mageflow, withCtx, type TaskContext } from '@mageflow/core';
import type { Page } from 'playwright-core';
import { serveDashboard, type RunningDashboard } from '../src';
import { ensureChromium, launchChromium } from './chromium';
import { storeCases } from './services';

const OUT = join(__dirname, '..', 'test-output');
const UI = join(__dirname, '..', 'dist', 'ui', 'index.html');
const available = ensureChromium();
const suite = available ? describe.each(storeCases()) : describe.skip.each(storeCases());

beforeAll(() => {
  mkdirSync(OUT, { recursive: true });
  // `npm test` builds first; a jest run on its own builds the page when it is missing
  if (!existsSync(UI)) spawnSync('npx', ['vite', 'build', '--config', 'ui/vite.config.ts'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
}, 120_000);

/** Hex colour to what the browser reports. */
const rgb = (hex: string) => `rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`;

suite('dashboard in Chromium on $name', (storeCase) => {
  let mf: Mageflow;
  let dash: RunningDashboard;
  let cleanup: () => Promise<void>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const waiting: (() => void)[] = [];
  let releasedEarly = 0;
  /** lets the next held member body go on */
  const releaseOne = () => {
    const next = waiting.shift();
    if (next) next();
    else releasedEarly += 1;
  };

  beforeAll(async () => {
    const made = storeCase.make();
    cleanup = made.cleanup;
    mf = new Mageflow({ store: made.store, engine: new InProcessEngine(), config: { sweepEveryMs: false } });
    dash = await serveDashboard(mf, { port: 0, print: null });
    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 60_000);
  afterAll(async () => {
    while (waiting.length) releaseOne();
    await browser?.close();
    await dash?.close();
    await mf?.stop();
    await cleanup?.();
  }, 60_000);

  const shot = (name: string) => page.screenshot({ path: join(OUT, `${storeCase.name}-${name}.png`) });

  it('shows a running workflow live, and controls it from the page', async () => {
    const prepare = mf.task('prepare', () => 'ready');
    const work = mf.task('work-item', withCtx(async (_: unknown, ctx: TaskContext) => {
      if (releasedEarly > 0) releasedEarly -= 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      ctx.log.info(`work item ${ctx.key} finished`, { attempt: ctx.attempt });
      return 1;
    }));
    const report = mf.task('report', () => 'reported');
    const notify = mf.task('notify', () => undefined);
    const spare = mf.task('spare', () => undefined);
    await mf.start();
    const swarm = await mf.swarm(Array.from({ length: 24 }, () => work), { name: 'Items', config: { maxConcurrency: 4 } });
    await swarm.close();
    const chain = await mf.chain([prepare, swarm, report], { name: 'Nightly import', success: notify });
    await chain.runNoWait({});
    const lone = await mf.sign(spare, { status: 'suspended' });
    const row = (key: string) => page.locator(`[data-testid=list] li[data-key="${key}"]`);
    const node = (key: string) => page.locator(`.sig-node[data-key="${key}"]`);

    await page.goto(dash.url);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    // the list shows the running workflow
    await row(chain.key).waitFor();
    await page.waitForFunction((k) => document.querySelector(`[data-testid=list] li[data-key="${k}"]`)?.getAttribute('data-status') === 'active', chain.key);
    await shot('list');

    // its graph: the chain, its three members (the swarm as one group node), the callback
    await row(chain.key).click();
    await node(swarm.key).waitFor();
    const members = (await chain.refresh()).toJSON().members!;
    const [prepareKey, , reportKey] = members;
    const notifyKey = (await chain.refresh()).toJSON().successCallbacks[0]!;
    for (const key of [chain.key, prepareKey!, swarm.key, reportKey!, notifyKey]) await node(key).waitFor();
    expect(await page.locator('.sig-node').count()).toBe(5);
    await page.waitForFunction((k) => document.querySelector(`.sig-node[data-key="${k}"]`)?.getAttribute('data-status') === 'done', prepareKey);
    const colour = (key: string) => node(key).evaluate((el) => getComputedStyle(el).borderTopColor);
    expect(await colour(prepareKey!)).toBe(rgb('#1f9d55')); // done: green
    expect(await colour(swarm.key)).toBe(rgb('#2f7df6')); // active: blue
    expect(await colour(reportKey!)).toBe(rgb('#9aa4b2')); // pending: grey
    expect(await node(swarm.key).getAttribute('class')).toContain('group');
    await node(swarm.key).click(); // a big swarm's members are listed, paged, beside the graph
    await page.locator('[data-testid=members]', { hasText: '1–20 of 24' }).waitFor();
    await page.locator('[data-testid=members] button', { hasText: 'next' }).click();
    await page.locator('[data-testid=members]', { hasText: '21–24 of 24' }).waitFor();
    await shot('graph');
    await page.locator('[data-testid=graph]').screenshot({ path: join(OUT, `${storeCase.name}-graph-only.png`) });

    // the swarm's progress bar moves as members end
    const fraction = () => node(swarm.key).locator('[data-testid=progress]').getAttribute('data-fraction').then(Number);
    expect(await fraction()).toBe(0);
    await page.locator('.tabs button', { hasText: 'logs' }).waitFor();
    await node(chain.key).click();
    await page.locator('.tabs button', { hasText: 'logs' }).click();
    for (let i = 0; i < 4; i++) releaseOne();
    await page.waitForFunction((k) => Number(document.querySelector(`.sig-node[data-key="${k}"] [data-testid=progress]`)?.getAttribute('data-fraction')) >= 4 / 24, swarm.key);
    // a log line written by a task appears live
    await page.locator('[data-testid=logs] li[data-level=info]', { hasText: 'finished' }).first().waitFor();
    await shot('logs');

    // suspend from the page: the status changes on the page, no reload
    await page.locator('[data-action=suspend]').click();
    await page.locator('[data-testid=root-status]', { hasText: 'suspended' }).waitFor();
    await page.locator('[data-testid=panel-status]', { hasText: 'suspended' }).waitFor();
    expect((await chain.refresh()).status).toBe('suspended');
    await page.locator('[data-action=resume]').click();
    await page.locator('[data-testid=root-status]', { hasText: 'active' }).waitFor();

    await page.locator('.tabs button', { hasText: 'timeline' }).click();
    await page.locator('[data-testid=timeline] .wf-row').first().waitFor();
    await shot('timeline');
    await page.locator('.tabs button', { hasText: 'details' }).click();
    await page.locator('[data-testid=detail]').waitFor();
    await shot('detail');

    // cancel asks for confirmation first
    await page.locator('input[placeholder="task name (exact)"]').fill('spare');
    await row(lone.key).waitFor();

    // how long a status change takes to reach the page: from the store write to the row's change
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const to = i % 2 === 0 ? 'pending' : 'suspended';
      await page.evaluate(([k, status]) => {
        const w = window as unknown as { changedAt?: number };
        w.changedAt = undefined;
        const el = document.querySelector(`[data-testid=list] li[data-key="${k}"]`)!;
        const seen = new MutationObserver(() => {
          if (el.getAttribute('data-status') === status) (w.changedAt = performance.timeOrigin + performance.now()), seen.disconnect();
        });
        seen.observe(el, { attributes: true });
      }, [lone.key, to]);
      const sent = Date.now();
      await (to === 'pending' ? mf.resume(lone.key) : mf.suspend(lone.key));
      await page.waitForFunction(() => (window as unknown as { changedAt?: number }).changedAt !== undefined);
      latencies.push((await page.evaluate(() => (window as unknown as { changedAt: number }).changedAt)) - sent);
    }
    if ((await mf.load(lone.key))!.status !== 'suspended') await mf.suspend(lone.key);
    latencies.sort((a, b) => a - b);
    writeFileSync(join(OUT, `${storeCase.name}-status-to-page-ms.json`), JSON.stringify({ samples: latencies, median: latencies[2] }));
    console.log(`[${storeCase.name}] a status change reaches the page in ${latencies[2]!.toFixed(1)} ms (median of 5: ${latencies.map((l) => l.toFixed(1)).join(', ')})`);
    await page.waitForFunction((k) => document.querySelector(`[data-testid=list] li[data-key="${k}"]`)?.getAttribute('data-status') === 'suspended', lone.key);
    await row(lone.key).click();
    await page.locator('[data-testid=panel-status]', { hasText: 'suspended' }).waitFor();
    await page.locator('[data-action=cancel]').click();
    await page.locator('[data-testid=confirm]').waitFor();
    await shot('confirm');
    await page.locator('[data-testid=confirm] button', { hasText: 'Keep it' }).click();
    expect(await mf.load(lone.key)).not.toBeNull();
    await page.locator('[data-action=cancel]').click();
    await page.locator('[data-testid=confirm-yes]').click();
    await page.locator('[role=status]', { hasText: 'cancel: done' }).waitFor();
    expect(await mf.load(lone.key)).toBeNull();
    await row(lone.key).waitFor({ state: 'detached' });

    // the rest of the members end: the workflow is done, on the page, still the same page
    await page.locator('input[placeholder="task name (exact)"]').fill('');
    for (let i = 0; i < 20; i++) releaseOne();
    await chain.wait({ timeoutMs: 30_000 });
    await page.waitForFunction((k) => document.querySelector(`[data-testid=list] li[data-key="${k}"]`)?.getAttribute('data-status') === 'done', chain.key);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await shot('done');
    // the README's picture: kept once made (MAGEFLOW_UPDATE_SCREENSHOT=1 makes it again)
    const readmeShot = join(__dirname, '..', 'docs', 'graph.png');
    if (storeCase.name === 'memory' && (!existsSync(readmeShot) || process.env.MAGEFLOW_UPDATE_SCREENSHOT)) {
      mkdirSync(join(__dirname, '..', 'docs'), { recursive: true });
      copyFileSync(join(OUT, 'memory-graph.png'), readmeShot);
    }
  }, 120_000);
});
