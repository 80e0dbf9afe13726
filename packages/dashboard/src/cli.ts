#!/usr/bin/env node
/**
 * `npx @mageflow/dashboard --redis redis://127.0.0.1:6379 --prefix mageflow`: the dashboard
 * on a Redis store that workers share, from its own process.
 *
 * This process runs no worker and has none of your task functions or your engine, so it
 * shows everything live but controls nothing (it is read-only). For control (suspend,
 * resume, interrupt, cancel, retry, run a task), serve it from a worker process with
 * `serveDashboard(mf)`.
 */
import { parseArgs } from 'node:util';
import { Mageflow } from '@mageflow/core';
import { serveDashboard } from './server/serve';

const HELP = `Usage: mageflow-dashboard --redis URL [--prefix P] [--port 4400] [--host 127.0.0.1] [--token T]

  --redis URL     the Redis your workers use (redis:// or rediss://)
  --prefix P      their key prefix (default "mageflow")
  --port N        default 4400
  --host H        default 127.0.0.1; any other host needs a token (one is generated when not given)
  --token T       the token to require
  --read-only     (always on here: this process has no worker to act through)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      prefix: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      token: { type: 'string' },
      'read-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (!values.redis) {
    process.stderr.write(`mageflow-dashboard: --redis is required (the store your workers share)\n\n${HELP}`);
    process.exit(2);
  }
  const { RedisStore } = await import('@mageflow/store-redis').catch(() => {
    process.stderr.write('mageflow-dashboard: install @mageflow/store-redis beside it (npm i @mageflow/store-redis)\n');
    process.exit(2);
  });
  const store = new RedisStore({ url: values.redis, ...(values.prefix ? { prefix: values.prefix } : {}) });
  const mf = new Mageflow({ store });
  const dashboard = await serveDashboard(mf, {
    port: values.port === undefined ? undefined : Number(values.port),
    host: values.host,
    token: values.token,
    readOnly: true,
    readOnlyReason: 'this dashboard runs in a process of its own, with no worker to act through: serve it from a worker with serveDashboard(mf) for control',
  });
  const stop = async () => {
    await dashboard.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`mageflow-dashboard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
