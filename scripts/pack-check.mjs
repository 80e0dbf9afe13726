#!/usr/bin/env node
// The published packages as a user installs them. Run after the build:
//   1. packs the published packages with pnpm (as `changeset publish` does) and checks
//      the packed manifests and file lists;
//   2. runs publint and @arethetypeswrong/cli on every tarball;
//   3. installs the tarballs with npm into a blank folder (typebox, ioredis, pg, the
//      Hatchet SDK and jest come from the registry), then: require() each package
//      (with require(esm) turned off, as on Node 22.0-22.11), import() each, mix a
//      user's typebox schema with core's other copy, type-check a consumer with
//      skipLibCheck off, and run a default-config jest test (CommonJS) and an ESM one.
// Needs only Node >= 20.19, npm, network to the registry, and the workspace's dev
// dependencies. Exits non-zero on any problem. MAGEFLOW_PACK_KEEP=1 keeps the folder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core', 'store-redis', 'store-postgres', 'store-tier', 'engine-hatchet', 'testing', 'dashboard', 'cli', 'mcp'];
const JEST = process.env.MAGEFLOW_PACK_JEST ?? 'jest@30';
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'mageflow-pack-'));
const problems = [];

const log = (msg) => console.log(`[pack-check] ${msg}`);
function problem(msg) {
  problems.push(msg);
  console.error(`[pack-check] PROBLEM: ${msg}`);
}

/** Runs a command; a non-zero exit is a problem named `what`. Returns its stdout when `capture`. */
function run(what, cmd, args, { cwd = work, env = process.env, capture = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', shell: process.platform === 'win32' });
  if (r.error || r.status !== 0) {
    if (capture && r.stdout) process.stdout.write(r.stdout);
    problem(`${what} failed (${r.error?.message ?? `exit ${r.status}`})`);
    return null;
  }
  return capture ? r.stdout : '';
}

/** run(), but in the background: the network-bound install overlaps the CPU-bound checks. Resolves to success. */
function runAsync(what, cmd, args, { cwd = work, env = process.env } = {}) {
  const t = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (error) => (out += error.message));
    child.on('close', (code) => {
      // Output is printed whole, once done, so parallel steps do not interleave.
      process.stdout.write(`[pack-check] --- ${what} (${((Date.now() - t) / 1000).toFixed(1)} s)\n${out}`);
      if (code !== 0) problem(`${what} failed (exit ${code})`);
      resolve(code === 0);
    });
  });
}

/** A workspace dev dependency's CLI, run with this node. */
function bin(pkg, name = pkg.split('/').pop()) {
  const dir = join(root, 'node_modules', pkg);
  const { bin: b } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return join(dir, typeof b === 'string' ? b : b[name]);
}

// npm is run from inside `pnpm run`: pnpm's own npm_config_* settings would leak
// into it and change how it installs. Keep only the ones that say where the
// registry is and how to reach it.
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k) || /^npm_config_(registry|cache|userconfig|globalconfig|.*proxy|strict_ssl|cafile|ca|@.*:registry)$/i.test(k)),
);

async function pack() {
  const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // Under `npm test` the pinned pnpm is the one running us; alone, fetch it as scripts/pnpm.mjs does.
  const execpath = process.env.npm_execpath ?? '';
  const pnpm = /pnpm/.test(execpath) && process.env.npm_config_user_agent?.startsWith(packageManager.replace('@', '/'))
    ? [process.execPath, [execpath]]
    : ['npx', ['--yes', packageManager]];
  const tarballs = {};
  await Promise.all(PACKAGES.map(async (name) => {
    const cwd = join(root, 'packages', name);
    const dest = join(work, 'tarballs', name);
    mkdirSync(dest, { recursive: true });
    if (!existsSync(join(cwd, 'dist'))) problem(`packages/${name} has no dist: build before the pack check`);
    await runAsync(`pnpm pack of @mageflow/${name}`, pnpm[0], [...pnpm[1], 'pack', '--pack-destination', dest], { cwd });
    const made = readdirSync(dest);
    if (made.length !== 1) throw new Error(`pnpm pack of ${name} made ${made.length} files`);
    tarballs[name] = join(dest, made[0]);
  }));
  return tarballs;
}

/** What a user downloads: the manifest pnpm rewrote and the files it kept. */
function checkTarball(name, tarball) {
  const dir = join(work, 'unpacked', name);
  mkdirSync(dir, { recursive: true });
  run(`unpacking ${name}`, 'tar', ['-xzf', tarball, '-C', dir]);
  const pkgDir = join(dir, 'package');
  const raw = readFileSync(join(pkgDir, 'package.json'), 'utf8');
  const pkg = JSON.parse(raw);
  const where = `@mageflow/${name} (packed)`;
  if (raw.includes('@mageflow/source')) problem(`${where}: package.json still names the @mageflow/source condition, whose src/ is not shipped`);
  if (raw.includes('workspace:')) problem(`${where}: package.json still has a workspace: range`);
  if (pkg.publishConfig?.exports) problem(`${where}: publishConfig.exports was not applied`);
  if (existsSync(join(pkgDir, 'src'))) problem(`${where}: ships src/`);
  for (const file of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
    if (!existsSync(join(pkgDir, file))) problem(`${where}: ${file} is missing`);
  }
  if (existsSync(join(pkgDir, 'LICENSE')) && !/MIT License[\s\S]*Copyright \(c\) 2026 the Mageflow authors/.test(readFileSync(join(pkgDir, 'LICENSE'), 'utf8'))) problem(`${where}: LICENSE is not the MIT license of the Mageflow authors`);
  if (pkg.license !== 'MIT') problem(`${where}: license is ${pkg.license}`);
  if (pkg.repository?.url !== 'git+https://github.com/mageflow/mageflow-ts.git' || pkg.repository?.directory !== `packages/${name}`) problem(`${where}: repository is ${JSON.stringify(pkg.repository)}`);
  if (!pkg.homepage || !Array.isArray(pkg.keywords) || pkg.keywords.length === 0) problem(`${where}: homepage or keywords missing`);
  // files: dist, and for each subpath export a folder holding the package.json that points
  // node10 resolution into dist (e.g. @mageflow/testing/race-worker)
  const subpaths = Object.keys(pkg.exports ?? {}).filter((k) => k !== '.' && k !== './package.json').map((k) => k.slice(2));
  if (pkg.sideEffects !== false || JSON.stringify(pkg.files) !== JSON.stringify(['dist', ...subpaths])) problem(`${where}: sideEffects/files are not the house style`);
  for (const sub of subpaths) if (!existsSync(join(pkgDir, sub, 'package.json'))) problem(`${where}: ${sub}/package.json (the subpath for node10 resolution) is missing`);
  if (pkg.exports?.['./package.json'] !== './package.json') problem(`${where}: ./package.json is not exported`);
  const dist = (f) => readFileSync(join(pkgDir, 'dist', f), 'utf8');
  if (name === 'core') {
    // typebox is ESM-only: the CommonJS build carries it, the ESM build imports it.
    if (/require\(["']typebox/.test(dist('index.cjs'))) problem(`${where}: the CommonJS build requires typebox, which is ESM-only`);
    if (!/from ["']typebox/.test(dist('index.js'))) problem(`${where}: the ESM build bundles typebox instead of importing it`);
  } else {
    // Adapters and testing take core and typebox from the user's install, never a copy. A package
    // with several entries (a bin beside its index) shares code through chunks: each build's files together.
    for (const ext of ['.js', '.cjs']) {
      const files = readdirSync(join(pkgDir, 'dist')).filter((f) => f.endsWith(ext));
      const code = files.map(dist).join('\n');
      if (/typebox|~kind/.test(code)) problem(`${where}: dist/*${ext} uses or bundles typebox`);
      if (!/(require\(|from )["']@mageflow\/core["']/.test(code)) problem(`${where}: dist/*${ext} does not import @mageflow/core (bundled?)`);
    }
  }
  if (name === 'dashboard') {
    // the page is built into the package, and the CLI is its bin
    for (const file of ['dist/ui/index.html', 'dist/cli.js']) if (!existsSync(join(pkgDir, file))) problem(`${where}: ${file} is missing`);
    if (pkg.bin?.['mageflow-dashboard'] !== './dist/cli.js') problem(`${where}: bin mageflow-dashboard is ${JSON.stringify(pkg.bin)}`);
  }
  if (name === 'mcp' && (pkg.bin?.['mageflow-mcp'] !== './dist/cli.js' || !existsSync(join(pkgDir, 'dist/cli.js')))) problem(`${where}: bin mageflow-mcp is ${JSON.stringify(pkg.bin)}`);
  if (name === 'cli' && (pkg.bin?.mageflow !== './dist/cli.js' || !existsSync(join(pkgDir, 'dist/cli.js')))) problem(`${where}: bin mageflow is ${JSON.stringify(pkg.bin)}`);
  return pkgDir;
}

function lint(name, tarball, pkgDir) {
  return Promise.all([
    runAsync(`publint of @mageflow/${name}`, process.execPath, [bin('publint'), pkgDir, '--strict', '--pack', 'false'], { cwd: root }),
    // The default "strict" profile: node10, node16 (CommonJS and ESM) and bundler resolution.
    runAsync(`attw of @mageflow/${name}`, process.execPath, [bin('@arethetypeswrong/cli', 'attw'), tarball, '--format', 'table-flipped'], { cwd: root }),
  ]);
}

const SCHEMA_ON_RUN = `
  const mf = new Mageflow();
  const add = mf.task('add', async ({ a, b }) => a + b, { input: schema });
  const got = await add.run({ a: 2, b: 3 });
  if (got !== 5) throw new Error('add.run gave ' + got);
  let refused;
  try { await mf.sign(add, { kwargs: { a: 'x' } }); } catch (error) { refused = error; }
  if (refused?.code !== 'INVALID_INPUT') throw new Error('a bad input was not refused: ' + refused);
  await mf.close();
`;

function writeConsumer(app) {
  const file = (name, text) => writeFileSync(join(app, name), text.trimStart());
  file('package.json', JSON.stringify({ name: 'mageflow-pack-check', private: true, license: 'MIT' }, null, 2));
  // CommonJS. Run with require(esm) off when this Node has it, as Node 22.0-22.11 does.
  file('check.cjs', `
const assert = require('node:assert');
const core = require('@mageflow/core');
const { RedisStore } = require('@mageflow/store-redis');
const { PostgresStore } = require('@mageflow/store-postgres');
const { TierStore } = require('@mageflow/store-tier');
const { HatchetEngine } = require('@mageflow/engine-hatchet');
const { serveDashboard } = require('@mageflow/dashboard');
assert.equal(typeof serveDashboard, 'function');
assert.equal(typeof core.Mageflow, 'function');
assert.equal(typeof RedisStore, 'function');
// made without connecting (the pool connects on first use), closed at once
new PostgresStore({ schema: 'pack_check', cleanupEveryMs: false }).close();
// made with a Redis client that connects on first use, closed at once
new TierStore({ postgres: { schema: 'pack_check', cleanupEveryMs: false }, redis: { redisOptions: { lazyConnect: true } } }).close();
assert.equal(typeof HatchetEngine, 'function');
// @mageflow/testing loads @jest/globals, which throws outside jest: resolve it here, load it in jest.
assert.match(require.resolve('@mageflow/testing'), /dist[\\\\/]index\\.cjs$/);
const { Mageflow } = core;
const schema = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] };
(async () => { ${SCHEMA_ON_RUN} console.log('CommonJS: ok'); })().catch((e) => { console.error(e); process.exit(1); });
`);
  // ESM, plus the cross-copy case: the user's typebox (ESM) and the copy inside core's CommonJS build.
  file('check.mjs', `
import assert from 'node:assert';
import { createRequire } from 'node:module';
import Type from 'typebox';
import * as core from '@mageflow/core';
import { RedisStore } from '@mageflow/store-redis';
import { PostgresStore } from '@mageflow/store-postgres';
import { TierStore } from '@mageflow/store-tier';
import { HatchetEngine } from '@mageflow/engine-hatchet';
import { serveDashboard } from '@mageflow/dashboard';
assert.equal(typeof RedisStore, 'function');
assert.equal(typeof PostgresStore, 'function');
assert.equal(typeof TierStore, 'function');
{
  // the packed dashboard serves its page and its API
  const mf = new core.Mageflow();
  const dash = await serveDashboard(mf, { port: 0, print: null });
  assert.match(await (await fetch(dash.url)).text(), /Mageflow dashboard/);
  assert.equal((await (await fetch(new URL('/api/info', dash.url))).json()).readOnly, false);
  await dash.close();
  await mf.close();
}
assert.equal(typeof HatchetEngine, 'function');
assert.match(import.meta.resolve('@mageflow/testing'), /dist\\/index\\.js$/);
const schema = Type.Object({ a: Type.Number(), b: Type.Number() });
for (const [label, { Mageflow }] of [['ESM', core], ['typebox schema in the CommonJS core', createRequire(import.meta.url)('@mageflow/core')]]) {
  ${SCHEMA_ON_RUN}
  console.log(label + ': ok');
}
`);
  const jestTest = (imports) => `
${imports}

describe('the published packages under a default jest setup', () => {
  it('runs a task on the embedded defaults', async () => {
    const mf = new Mageflow();
    const add = mf.task('add', async ({ a, b }) => a + b, {
      input: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    });
    expect(await add.run({ a: 2, b: 3 })).toBe(5);
    await expect(mf.sign(add, { kwargs: { a: 'x' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await waitUntil(() => true, 'trivially true')).toBe(true);
    await mf.close();
  });
});

describeStoreConformance('MemoryStore from the packed core', () => ({ store: new MemoryStore() }));
`;
  file('mageflow.cjs.test.js', jestTest(`const { Mageflow, MemoryStore } = require('@mageflow/core');\nconst { describeStoreConformance, waitUntil } = require('@mageflow/testing');`));
  file('mageflow.esm.test.mjs', jestTest(`import { expect, describe, it } from '@jest/globals';\nimport { Mageflow, MemoryStore } from '@mageflow/core';\nimport { describeStoreConformance, waitUntil } from '@mageflow/testing';`));
  // Type-check consumers with skipLibCheck off. Core and testing need no
  // @types/node: only the DOM lib, for AbortSignal (which Node types declare too).
  // store-redis, store-postgres and store-tier need Node's types through ioredis and pg. engine-hatchet is left to attw:
  // the Hatchet SDK's own declarations import its optional peers (@openai/agents,
  // @anthropic-ai/claude-agent-sdk), so no consumer of it compiles with skipLibCheck off.
  const tsconfig = (files, lib, types) => JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib, types }, files }, null, 2);
  file('types-core.mts', `
import { Mageflow, MemoryStore, InProcessEngine, TaskAlreadyRunningError, type Store, type Engine } from '@mageflow/core';
import { describeStoreConformance } from '@mageflow/testing';
import Type from 'typebox';
const store: Store = new MemoryStore();
const engine: Engine = new InProcessEngine();
const mf = new Mageflow({ store, engine });
const add = mf.task('add', async ({ a, b }: { a: number; b: number }) => a + b, { input: Type.Object({ a: Type.Number(), b: Type.Number() }) });
export const sum: Promise<number> = add.run({ a: 1, b: 2 });
export const isRunning = (e: unknown): boolean => e instanceof TaskAlreadyRunningError;
describeStoreConformance('types', () => ({ store }));
`);
  file('types-core.cts', `
import core = require('@mageflow/core');
import testing = require('@mageflow/testing');
export const mf: core.Mageflow = new core.Mageflow();
export const helper: typeof testing.waitUntil = testing.waitUntil;
`);
  file('types-redis.mts', `
import { Mageflow } from '@mageflow/core';
import { RedisStore } from '@mageflow/store-redis';
export const make = () => new Mageflow({ store: new RedisStore({ url: 'redis://127.0.0.1:6379' }) });
`);
  file('types-redis.cts', `
import redis = require('@mageflow/store-redis');
export type Store = redis.RedisStore;
`);
  file('types-postgres.mts', `
import { Mageflow } from '@mageflow/core';
import { PostgresStore, SCHEMA_VERSION } from '@mageflow/store-postgres';
import pg from 'pg';
export const make = () => new Mageflow({ store: new PostgresStore({ pool: new pg.Pool({ connectionString: 'postgres://127.0.0.1/app' }), schema: 'orders' }) });
export const version: number = SCHEMA_VERSION;
`);
  file('types-postgres.cts', `
import postgres = require('@mageflow/store-postgres');
export type Store = postgres.PostgresStore;
`);
  file('types-tier.mts', `
import { Mageflow } from '@mageflow/core';
import { TierStore, type TierStats } from '@mageflow/store-tier';
export const make = () => new Mageflow({ store: new TierStore({ postgres: { schema: 'orders' }, redis: { url: 'redis://127.0.0.1:6379' } }) });
export const stats = (t: TierStore): TierStats => t.stats;
`);
  file('types-tier.cts', `
import tier = require('@mageflow/store-tier');
export type Store = tier.TierStore;
`);
  file('tsconfig.core.json', tsconfig(['types-core.mts', 'types-core.cts'], ['es2022', 'dom'], []));
  file('tsconfig.node.json', tsconfig(['types-core.mts', 'types-core.cts', 'types-redis.mts', 'types-redis.cts', 'types-postgres.mts', 'types-postgres.cts', 'types-tier.mts', 'types-tier.cts'], ['es2022'], ['node']));
}

async function main() {
  log(`working in ${work}`);
  let t = Date.now();
  const tarballs = await pack();
  log(`packed in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeConsumer(app);
  // The install (network) runs while the tarballs are linted (CPU).
  log(`npm install of the tarballs, typebox and ${JEST} from the registry; publint and attw meanwhile`);
  const installed = runAsync('npm install', 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...PACKAGES.map((n) => tarballs[n]), 'typebox', JEST, '@types/node@20'], { cwd: app, env: npmEnv });
  for (const name of PACKAGES) await lint(name, tarballs[name], checkTarball(name, tarballs[name]));
  if (!(await installed)) return;

  const noRequireEsm = process.features.require_module ? ['--no-experimental-require-module'] : [];
  run('require() under CommonJS' + (noRequireEsm.length ? ' without require(esm)' : ''), process.execPath, [...noRequireEsm, 'check.cjs'], { cwd: app });
  run('import under ESM', process.execPath, [...noRequireEsm, 'check.mjs'], { cwd: app });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const jest = join(app, 'node_modules', 'jest', 'bin', 'jest.js');
  await Promise.all([
    runAsync('type-check: core and testing, skipLibCheck off, no @types/node', process.execPath, [tsc, '-p', 'tsconfig.core.json'], { cwd: app }),
    runAsync('type-check: core, testing, store-redis, store-postgres and store-tier, skipLibCheck off, @types/node', process.execPath, [tsc, '-p', 'tsconfig.node.json'], { cwd: app }),
    runAsync('jest, default config, a CommonJS test', process.execPath, [jest, '--ci', 'mageflow.cjs.test'], { cwd: app, env: npmEnv }),
  ]);
  // the installed `mageflow` binary answers (no dashboard is running: a typed error, as JSON)
  const cli = spawnSync(join(app, 'node_modules', '.bin', 'mageflow'), ['ls', '--url', 'http://127.0.0.1:1', '--json'], { cwd: app, encoding: 'utf8' });
  if (cli.status !== 1 || !/"code":"UNREACHABLE"/.test(cli.stdout)) problem(`the installed mageflow binary answered ${cli.status}: ${cli.stdout}${cli.stderr}`);
  await runAsync('jest, an ESM test (--experimental-vm-modules)', process.execPath, ['--experimental-vm-modules', '--no-warnings', jest, '--ci', 'mageflow.esm.test'], { cwd: app, env: npmEnv });
}

try {
  await main();
} catch (error) {
  problem(error.stack ?? String(error));
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (process.env.MAGEFLOW_PACK_KEEP || problems.length > 0) log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
if (problems.length > 0) {
  console.error(`\n[pack-check] FAILED after ${seconds} s: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
log(`passed in ${seconds} s`);
