/**
 * The Hatchet engine the tests talk to: HATCHET_CLIENT_* from the environment, or
 * the env file `scripts/hatchet/up.sh` writes. In CI an unreachable engine fails
 * the run; elsewhere the Hatchet tests skip with a loud reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ENV_FILE = join(process.env.MAGEFLOW_CACHE ?? join(homedir(), '.cache', 'mageflow'), 'hatchet', 'state', 'env');

export function loadHatchetEnv(): void {
  if (process.env.HATCHET_CLIENT_TOKEN || !existsSync(ENV_FILE)) return;
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m && !process.env[m[1]!]) process.env[m[1]!] = m[2]!;
  }
}

function reachable(): string | undefined {
  loadHatchetEnv();
  if (!process.env.HATCHET_CLIENT_TOKEN) return `no HATCHET_CLIENT_TOKEN and no ${ENV_FILE}`;
  const api = process.env.HATCHET_CLIENT_API_URL ?? 'http://127.0.0.1:8080';
  const probe = `fetch(${JSON.stringify(`${api}/api/ready`)}).then(r=>console.log(r.status),e=>console.log(e.message))`;
  const out = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
  return out === '200' ? undefined : `${api}/api/ready answered ${out || 'nothing'}`;
}

/** Whether the Hatchet tests run: a failure in CI when the engine is unreachable, a loud skip elsewhere. */
export function hatchetOrSkip(): boolean {
  const problem = reachable();
  if (!problem) return true;
  if (process.env.CI) throw new Error(`a Hatchet engine is required in CI: ${problem}. npm test brings one up with scripts/hatchet/up.sh.`);
  console.warn(`\n*** SKIPPING Hatchet tests: ${problem}. Run scripts/hatchet/up.sh (or npm test) first. ***\n`);
  return false;
}
