/**
 * The MCP server through the official SDK's client: in memory against this process's
 * inspection API, and over stdio against the `mageflow-mcp` binary talking to a dashboard.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Inspector, InProcessEngine, Mageflow, withCtx, type TaskContext } from '@mageflow/core';
import { localClient } from '@mageflow/cli';
import { serveDashboard } from '@mageflow/dashboard';
import { waitUntil } from '@mageflow/testing';
import { createMcpServer } from '../src';

const ROOT = join(__dirname, '..', '..', '..');
const READ_TOOLS = ['count_signatures', 'get_signature', 'list_signatures', 'list_tasks', 'signature_logs', 'signature_tree'];
const CONTROL_TOOLS = ['cancel', 'interrupt', 'resume', 'retry', 'run_task', 'suspend'];

type Result = { content: { type: string; text: string }[]; isError?: boolean };
const parse = (r: unknown) => JSON.parse((r as Result).content[0]!.text);

async function connected(mf: Mageflow, allowControl: boolean) {
  const server = createMcpServer(localClient(new Inspector(mf)), { allowControl });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1.0.0' });
  await Promise.all([server.connect(a), client.connect(b)]);
  return { client, close: async () => (await client.close(), await server.close()) };
}

describe('Mageflow MCP server', () => {
  let mf: Mageflow;
  beforeEach(() => {
    mf = new Mageflow({ engine: new InProcessEngine(), config: { sweepEveryMs: false } });
  });
  afterEach(async () => {
    await mf.stop();
  });

  it('offers only the read tools unless control is allowed, and they read workflows, trees, logs and tasks', async () => {
    const step = mf.task('mcp-step', withCtx(async (n: number, ctx: TaskContext) => (ctx.log.info('stepped', { n }), n * 2)), {
      input: { type: 'number' } as never,
    });
    const chain = await mf.chain([step, step], { name: 'mcp chain' });
    await chain.run(1, { timeoutMs: 10_000 });
    const { client, close } = await connected(mf, false);
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(READ_TOOLS);
      const list = parse(await client.callTool({ name: 'list_signatures', arguments: { text: 'mcp chain' } }));
      expect(list.items.map((i: { key: string }) => i.key)).toEqual([chain.key]);
      expect(parse(await client.callTool({ name: 'count_signatures', arguments: { kinds: ['task'], includeMembers: true } })).counts.done).toBe(2);
      expect(parse(await client.callTool({ name: 'get_signature', arguments: { key: chain.key } }))).toMatchObject({ status: 'done', result: 4, progress: { total: 2, done: 2 } });
      const tree = parse(await client.callTool({ name: 'signature_tree', arguments: { key: chain.key } }));
      expect(tree.children.map((c: { status: string }) => c.status)).toEqual(['done', 'done']);
      const logs = parse(await client.callTool({ name: 'signature_logs', arguments: { key: chain.key, wholeWorkflow: true } }));
      expect(logs.map((l: { fields: unknown }) => l.fields)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(parse(await client.callTool({ name: 'list_tasks', arguments: {} }))).toEqual([{ name: 'mcp-step', inputSchema: { type: 'number' }, retries: 0 }]);
      const missing = (await client.callTool({ name: 'get_signature', arguments: { key: 'nothing' } })) as Result;
      expect(missing.isError).toBe(true);
      expect(parse(missing).error.code).toBe('SIGNATURE_NOT_FOUND');
      const refused = (await client.callTool({ name: 'suspend', arguments: { key: chain.key } })) as Result;
      expect(refused.isError).toBe(true);
    } finally {
      await close();
    }
  });

  it('with control allowed: suspends and resumes, cancels only with confirm, retries, and runs a task with checked input', async () => {
    const idle = mf.task('mcp-idle', () => 'idle', { input: { type: 'object', properties: { n: { type: 'number' } } } as never });
    const { client, close } = await connected(mf, true);
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...READ_TOOLS, ...CONTROL_TOOLS].sort());
      const sig = await mf.sign(idle);
      await client.callTool({ name: 'suspend', arguments: { key: sig.key } });
      expect((await mf.load(sig.key))!.status).toBe('suspended');
      await client.callTool({ name: 'resume', arguments: { key: sig.key } });
      expect((await mf.load(sig.key))!.status).toBe('pending');
      const unconfirmed = (await client.callTool({ name: 'cancel', arguments: { key: sig.key, confirm: false } })) as Result;
      expect(parse(unconfirmed).error.code).toBe('CONFIRMATION_REQUIRED');
      expect(await mf.load(sig.key)).not.toBeNull();
      await client.callTool({ name: 'cancel', arguments: { key: sig.key, confirm: true } });
      expect(await mf.load(sig.key)).toBeNull();
      const bad = (await client.callTool({ name: 'run_task', arguments: { task: 'mcp-idle', input: { n: 'x' } } })) as Result;
      expect(parse(bad).error.code).toBe('INVALID_INPUT');
      const { key } = parse(await client.callTool({ name: 'run_task', arguments: { task: 'mcp-idle', input: { n: 1 } } }));
      await waitUntil(async () => (await mf.load(key))?.status === 'done', 'the started task done');
    } finally {
      await close();
    }
  });

  it('runs as mageflow-mcp on stdio against a dashboard, read tools only without --allow-control', async () => {
    for (const pkg of ['core', 'store-redis', 'cli', 'mcp']) {
      if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.js'))) spawnSync('npx', ['tsup'], { cwd: join(ROOT, 'packages', pkg), stdio: 'inherit' });
    }
    const task = mf.task('mcp-stdio', () => 'ok');
    const sig = await mf.sign(task);
    const dash = await serveDashboard(mf, { port: 0, print: null });
    const client = new Client({ name: 'test', version: '1.0.0' });
    try {
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [join(__dirname, '..', 'dist', 'cli.js'), '--url', dash.url], stderr: 'ignore' }));
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(READ_TOOLS);
      expect(parse(await client.callTool({ name: 'get_signature', arguments: { key: sig.key } }))).toMatchObject({ key: sig.key, status: 'pending' });
    } finally {
      await client.close();
      await dash.close();
    }
  });
});
