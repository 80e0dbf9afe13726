#!/usr/bin/env node
// `npm test`: builds and type-checks every package, checks the packed packages as
// a user installs them (scripts/pack-check.mjs), makes sure the services the
// integration tests need are up, runs every test suite, and prints one closing
// line with the totals ("Tests: N passed, N failed").
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureServices } from './services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['packages/core', 'packages/testing', 'packages/store-redis', 'packages/store-postgres', 'packages/store-tier', 'packages/engine-hatchet', 'packages/dashboard', 'packages/cli', 'packages/mcp'].filter((p) => existsSync(join(root, p)));
const results = (p) => join(root, p, '.jest-results.json');

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  return r.status ?? 1;
}

if (run('turbo', ['run', 'build', 'typecheck']) !== 0) process.exit(1);
// The published packages as a user installs them (scripts/pack-check.mjs). A failure
// fails the run, after the test suites have run too.
let packStatus = 0;
if (process.env.MAGEFLOW_SKIP_PACK_CHECK && !process.env.CI) console.error('[test] MAGEFLOW_SKIP_PACK_CHECK is set: the pack check is skipped');
else packStatus = run(process.execPath, [join(root, 'scripts', 'pack-check.mjs')]);
const env = { ...process.env, ...(await ensureServices()) };
for (const p of packages) rmSync(results(p), { force: true });
const status = run('turbo', ['run', 'test', '--concurrency=1', '--continue'], env);

let passed = 0, failed = 0, skipped = 0, suitesFailed = 0;
for (const p of packages) {
  if (!existsSync(results(p))) continue;
  const r = JSON.parse(readFileSync(results(p), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests;
  suitesFailed += r.numFailedTestSuites;
}
if (packStatus !== 0) console.log('\nThe pack check failed (see [pack-check] above).');
console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || packStatus !== 0 || failed > 0 || suitesFailed > 0 ? 1 : 0);
