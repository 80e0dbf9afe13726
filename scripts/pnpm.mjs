#!/usr/bin/env node
// Runs the workspace's pinned pnpm with only Node and npm installed.
// Corepack's signature check can fail against some registries, so pnpm is taken
// from the npm registry through npx at the exact version of `packageManager`.
// Usage: node scripts/pnpm.mjs <pnpm args...>  (installs dependencies first)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpm = ['--yes', packageManager];

function run(args) {
  const result = spawnSync('npx', [...pnpm, ...args], { cwd: root, stdio: 'inherit', env: process.env });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const frozen = process.env.CI ? ['--frozen-lockfile'] : [];
run(['install', ...frozen, '--reporter=append-only']);
run(process.argv.slice(2));
