#!/usr/bin/env node
// `npm test`: builds and type-checks every package, checks the packed packages as
// a user installs them (scripts/pack-check.mjs), makes sure the services the
// integration tests need are up, runs every test suite, and prints one closing
// line with the totals ("Tests: N passed, N failed").
//
// The packages' suites run one after another. MAGEFLOW_TEST_LANES=2 runs them in two
// lanes at once: the Hatchet package's suites (mostly waiting on the engine), then the
// tier's and the front ends', beside the core, testing, Redis and PostgreSQL packages'.
// That is about 5 minutes faster on 2 cores, but the load it adds has made timing-bound
// tests fail, so it is not the default.
import { spawn, spawnSync } from 'node:child_process';
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
const first = ['packages/engine-hatchet', 'packages/store-tier', 'packages/dashboard', 'packages/cli', 'packages/mcp'].filter((p) => packages.includes(p));
const lanes = process.env.MAGEFLOW_TEST_LANES === '2' ? [first, packages.filter((p) => !first.includes(p))] : [packages];
const statuses = await Promise.all(lanes.map((lane) => runLane(lane, env)));
const status = statuses.some((s) => s !== 0) ? 1 : 0;

let passed = 0, failed = 0, skipped = 0, suitesFailed = 0;
for (const p of packages) {
  if (!existsSync(results(p))) continue;
  const r = JSON.parse(readFileSync(results(p), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests;
  suitesFailed += r.numFailedTestSuites;
}
/** Runs each package's `test` script in turn (all of them, whatever fails), its output prefixed with its name. */
async function runLane(lane, laneEnv) {
  let worst = 0;
  for (const p of lane) {
    const name = p.split('/').pop();
    const started = Date.now();
    const code = await new Promise((resolve) => {
      const child = spawn('npm', ['run', '--silent', 'test'], { cwd: join(root, p), env: laneEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout, child.stderr]) prefixLines(stream, `${name}: `, stream === child.stdout ? process.stdout : process.stderr);
      child.on('error', () => resolve(1));
      child.on('close', (c) => resolve(c ?? 1));
    });
    console.log(`${name}: ${code === 0 ? 'passed' : `failed (exit ${code})`} in ${Math.round((Date.now() - started) / 1000)} s`);
    worst = Math.max(worst, code === 0 ? 0 : 1);
  }
  return worst;
}

function prefixLines(stream, prefix, out) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) out.write(prefix + line + '\n');
  });
  stream.on('end', () => rest && out.write(prefix + rest + '\n'));
}

if (packStatus !== 0) console.log('\nThe pack check failed (see [pack-check] above).');
console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || packStatus !== 0 || failed > 0 || suitesFailed > 0 ? 1 : 0);
