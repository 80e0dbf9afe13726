/**
 * Debian's Chromium for the browser tests: installed with apt-get when it is missing (so a
 * fresh machine and CI get it), launched headless with a fresh profile through
 * playwright-core. In CI a Chromium that cannot be had fails the run; elsewhere the
 * browser tests skip loudly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.MAGEFLOW_CHROMIUM ?? '/usr/bin/chromium';

/** Whether Chromium is there, installing it first when it is not. */
export function ensureChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const apt = (args: string[]) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 }).status === 0;
  console.warn(`[browser tests] ${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!apt(['install', '-y', 'chromium'])) apt(['update']) && apt(['install', '-y', 'chromium']);
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`the browser tests need Chromium at ${CHROMIUM} and apt-get could not install it`);
  console.warn(`\n*** SKIPPING the dashboard's browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium) ***\n`);
  return false;
}

/** A headless Chromium with a fresh profile; close() removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'mageflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
