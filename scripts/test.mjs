#!/usr/bin/env node
// `npm test`: builds and type-checks every package, makes sure the services the
// integration tests need are up, runs every test suite, and prints one closing
// line with the totals ("Tests: N passed, N failed").
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureServices } from './services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['packages/core', 'packages/testing', 'packages/store-redis', 'packages/engine-hatchet'].filter((p) => existsSync(join(root, p)));
const results = (p) => join(root, p, '.jest-results.json');

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  return r.status ?? 1;
}

if (run('turbo', ['run', 'build', 'typecheck']) !== 0) process.exit(1);
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
console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || failed > 0 || suitesFailed > 0 ? 1 : 0);
