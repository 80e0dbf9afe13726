// The services the integration tests talk to. Each is checked and, when down,
// started the way this machine's services are started. Returns the environment
// the tests need. In CI a service that cannot be brought up fails the run.
import { execFileSync } from 'node:child_process';
import net from 'node:net';

const inCI = Boolean(process.env.CI);

function listening(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function ensureRedis() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const { hostname, port } = new URL(url);
  if (await listening(Number(port || 6379), hostname)) return { REDIS_URL: url };
  console.error(`[services] no Redis at ${url}; starting one`);
  try {
    execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port || 6379), '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
    for (let i = 0; i < 50 && !(await listening(Number(port || 6379), hostname)); i++) await new Promise((r) => setTimeout(r, 100));
  } catch (error) {
    console.error(`[services] could not start redis-server: ${error.message}`);
  }
  if (await listening(Number(port || 6379), hostname)) return { REDIS_URL: url };
  if (inCI) throw new Error(`Redis is not reachable at ${url} and could not be started`);
  console.error('[services] Redis is unavailable: the Redis tests will skip (outside CI only)');
  return {};
}

/**
 * PostgreSQL for the store-postgres and store-tier tests: DATABASE_URL, or the `test` database on
 * 127.0.0.1:5432. When nothing listens, the machine's cluster is started
 * (pg_ctlcluster, as Debian packages it); the `test` database is created when missing.
 */
async function ensurePostgres() {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const { hostname, port } = new URL(url);
  const database = new URL(url).pathname.slice(1) || 'postgres';
  if (!(await listening(Number(port || 5432), hostname))) {
    console.error(`[services] no PostgreSQL at ${hostname}:${port || 5432}; starting the local cluster`);
    try {
      const clusters = execFileSync('sh', ['-c', 'ls /etc/postgresql'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      for (const version of clusters) execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
      for (let i = 0; i < 100 && !(await listening(Number(port || 5432), hostname)); i++) await new Promise((r) => setTimeout(r, 100));
    } catch (error) {
      console.error(`[services] could not start PostgreSQL: ${error.message}`);
    }
  }
  if (await listening(Number(port || 5432), hostname)) {
    try {
      // the tests' database: created once (trust auth on this machine, as the postgres user)
      const exists = execFileSync('psql', ['-h', hostname, '-p', String(port || 5432), '-U', 'postgres', '-d', 'postgres', '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${database}'`], { encoding: 'utf8' }).trim();
      if (exists !== '1') execFileSync('psql', ['-h', hostname, '-p', String(port || 5432), '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE "${database}"`], { stdio: 'inherit' });
    } catch (error) {
      console.error(`[services] could not check the database "${database}": ${error.message}`);
    }
    return { DATABASE_URL: url };
  }
  if (inCI) throw new Error(`PostgreSQL is not reachable at ${url} and could not be started`);
  console.error('[services] PostgreSQL is unavailable: the PostgreSQL tests will skip (outside CI only)');
  return {};
}

/** Brings up the local Hatchet engine with scripts/hatchet/up.sh (it builds it once, then reuses it). */
function ensureHatchet() {
  if (process.env.MAGEFLOW_SKIP_HATCHET && !inCI) {
    console.error('[services] MAGEFLOW_SKIP_HATCHET is set: the Hatchet tests will skip');
    return {};
  }
  console.error('[services] bringing up the Hatchet engine (the first build takes several minutes)');
  try {
    const out = execFileSync('bash', [new URL('./hatchet/up.sh', import.meta.url).pathname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 45 * 60_000 });
    const env = {};
    for (const line of out.split('\n')) {
      const m = /^export (\w+)=(.*)$/.exec(line.trim());
      if (m) env[m[1]] = m[2].replace(/^['"]|['"]$/g, '');
    }
    if (!env.HATCHET_CLIENT_TOKEN) throw new Error('up.sh printed no HATCHET_CLIENT_TOKEN');
    return env;
  } catch (error) {
    if (inCI) throw new Error(`the Hatchet engine could not be brought up: ${error.message}`);
    console.error(`[services] Hatchet is unavailable (${error.message}): the Hatchet tests will skip (outside CI only)`);
    return {};
  }
}

export async function ensureServices() {
  return { ...(await ensureRedis()), ...(await ensurePostgres()), ...ensureHatchet() };
}
