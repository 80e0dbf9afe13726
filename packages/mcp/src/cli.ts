#!/usr/bin/env node
/**
 * `mageflow-mcp`: the Mageflow MCP server on stdio, for an assistant to start.
 *
 *   mageflow-mcp --url http://127.0.0.1:4400 [--token T] [--allow-control]
 *   mageflow-mcp --redis redis://127.0.0.1:6379 [--prefix P]     (read tools only)
 */
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Inspector, Mageflow } from '@mageflow/core';
import { httpClient, localClient, type InspectionClient } from '@mageflow/cli';
import { createMcpServer } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      'allow-control': { type: 'boolean', default: false },
    },
  });
  let client: InspectionClient;
  if (values.redis) {
    if (values['allow-control']) throw new Error('--allow-control needs --url (a dashboard served by a worker): straight on a store there is no worker to act through');
    const { RedisStore } = await import('@mageflow/store-redis');
    const store = new RedisStore({ url: values.redis, ...(values.prefix ? { prefix: values.prefix } : {}) });
    client = localClient(new Inspector(new Mageflow({ store })), { readOnly: 'read-only: straight on the store', close: () => store.close() });
  } else {
    client = httpClient(values.url ?? process.env.MAGEFLOW_URL ?? 'http://127.0.0.1:4400', values.token ?? process.env.MAGEFLOW_TOKEN);
  }
  const server = createMcpServer(client, { allowControl: values['allow-control'] });
  await server.connect(new StdioServerTransport());
  // stdout is the protocol's: anything for people goes to stderr
  process.stderr.write(`mageflow-mcp on ${client.where}${values['allow-control'] ? ' (control tools on)' : ' (read tools only)'}\n`);
  const stop = async () => {
    await server.close();
    await client.close();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`mageflow-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
