#!/usr/bin/env node
/**
 * `mageflow`: look at and act on Mageflow workflows from a terminal.
 */
import { parseArgs } from 'node:util';
import { Inspector, Mageflow } from '@mageflow/core';
import { ClientError, httpClient, localClient, type InspectionClient } from './client';
import { runCommand, type Flags } from './commands';

const HELP = `Usage: mageflow <command> [options]

Commands:
  ls                     signatures, newest first (workflows only; --all for members too)
                         --status s1,s2  --kind task,chain,swarm  --task NAME  --text T  --limit N  --cursor C
  show KEY               a signature in full: kwargs, message, result, error, attempts, callbacks, TTL, timeline
  tree KEY               its members and callbacks, nested, with their statuses
  logs KEY [-f]          its log lines (--tree: of its whole workflow; --level warn,error; --text T); -f follows
  watch KEY              a live progress bar until it ends (exit 1 if it failed)
  suspend|resume|interrupt|retry KEY
  cancel KEY --yes       stops and deletes it with its members and callbacks, for good
  run TASK --input JSON  starts a registered task (its input is checked against its schema)

Where from:
  --url URL              a dashboard served by a worker (serveDashboard(mf)): everything, control included.
                         Default $MAGEFLOW_URL or http://127.0.0.1:4400; --token T or $MAGEFLOW_TOKEN when it needs one
  --redis URL [--prefix P]  straight on a Redis store: reading and following only

  --json                 machine-readable output (JSON; JSON lines for logs -f and watch)
`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
        redis: { type: 'string' },
        prefix: { type: 'string' },
        status: { type: 'string' },
        kind: { type: 'string' },
        task: { type: 'string' },
        text: { type: 'string' },
        all: { type: 'boolean', default: false },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        follow: { type: 'boolean', short: 'f', default: false },
        level: { type: 'string' },
        tree: { type: 'boolean', default: false },
        input: { type: 'string' },
        yes: { type: 'boolean', short: 'y', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`mageflow: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  const client = await connect(values);
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  try {
    return await runCommand(client, command, args, values as unknown as Flags, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
      tty: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
      interrupted,
    });
  } catch (error) {
    const code = error instanceof ClientError ? error.code : 'ERROR';
    const message = error instanceof Error ? error.message : String(error);
    if (values.json) process.stdout.write(JSON.stringify({ ok: false, error: { code, message } }) + '\n');
    else process.stderr.write(`mageflow: ${code}: ${message}\n`);
    return code === 'USAGE' ? 2 : 1;
  } finally {
    await client.close();
  }
}

async function connect(values: { url?: string; token?: string; redis?: string; prefix?: string }): Promise<InspectionClient> {
  if (values.redis) {
    const { RedisStore } = await import('@mageflow/store-redis');
    const store = new RedisStore({ url: values.redis, ...(values.prefix ? { prefix: values.prefix } : {}) });
    return localClient(new Inspector(new Mageflow({ store })), {
      readOnly: 'straight on the store, mageflow can read and follow but not act (no worker here); use --url with a dashboard served by a worker',
      close: () => store.close(),
    });
  }
  return httpClient(values.url ?? process.env.MAGEFLOW_URL ?? 'http://127.0.0.1:4400', values.token ?? process.env.MAGEFLOW_TOKEN);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`mageflow: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
