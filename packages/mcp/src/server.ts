/**
 * The Mageflow MCP server: read tools always; control tools only when it is created
 * with `allowControl` (the `--allow-control` flag), so an assistant cannot change a
 * workflow unless whoever started the server said it may. Each tool is a thin call to
 * the InspectionClient the CLI uses (a dashboard's API, or a store directly).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { STATUSES, type ListQuery, type Status } from '@mageflow/core';
import { ClientError, type InspectionClient } from '@mageflow/cli';

export interface McpOptions {
  /** register the control tools (suspend, resume, interrupt, cancel, retry, run_task). Default false. */
  allowControl?: boolean;
}

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

/** A tool's answer: the value as JSON text, or the error with its code. */
async function answer(work: () => Promise<unknown>): Promise<ToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await work(), null, 2) }] };
  } catch (error) {
    const code = error instanceof ClientError ? error.code : ((error as { code?: string }).code ?? 'ERROR');
    return { content: [{ type: 'text', text: JSON.stringify({ error: { code, message: (error as Error).message } }) }], isError: true };
  }
}

const key = z.string().min(1).describe('the signature key, e.g. "chain:0b9e..."');
const statusList = z.array(z.enum(STATUSES as unknown as [Status, ...Status[]])).optional();

export function createMcpServer(client: InspectionClient, options: McpOptions = {}): McpServer {
  const server = new McpServer({ name: 'mageflow', version: '0.1.0' });

  server.registerTool(
    'list_signatures',
    {
      description: 'Lists Mageflow signatures (tasks, chains, swarms), newest first, with filters. By default only workflows (signatures that are not members of a chain or swarm). Returns items and a cursor for the next page.',
      inputSchema: {
        statuses: statusList.describe('only these statuses'),
        kinds: z.array(z.enum(['task', 'chain', 'swarm'])).optional(),
        taskName: z.string().optional().describe('exact task name'),
        text: z.string().optional().describe('text in the key, name or task name'),
        includeMembers: z.boolean().optional().describe('also list members of chains and swarms'),
        cursor: z.string().optional(),
        limit: z.number().int().min(1).max(500).optional(),
      },
      annotations: { readOnlyHint: true },
    },
    async (a) => answer(() => client.list(listQuery(a))),
  );
  server.registerTool(
    'count_signatures',
    { description: 'Counts signatures by status, with the same filters as list_signatures.', inputSchema: { kinds: z.array(z.enum(['task', 'chain', 'swarm'])).optional(), taskName: z.string().optional(), text: z.string().optional(), includeMembers: z.boolean().optional() }, annotations: { readOnlyHint: true } },
    async (a) => answer(() => client.counts(listQuery(a))),
  );
  server.registerTool(
    'get_signature',
    { description: 'A signature in full: status, kwargs, message, result, error with stack, attempts, callbacks, cleanup outcome, TTL left, progress and ETA (chains and swarms), and its timeline of status changes.', inputSchema: { key }, annotations: { readOnlyHint: true } },
    async ({ key: k }) =>
      answer(async () => {
        const detail = await client.get(k);
        if (!detail) throw new ClientError('SIGNATURE_NOT_FOUND', `no signature is stored under "${k}"`);
        return detail;
      }),
  );
  server.registerTool(
    'signature_tree',
    {
      description: "A signature's tree: its members (a chain's in order, a swarm's paged) and callbacks, nested, each with its status and progress.",
      inputSchema: { key, memberOffset: z.number().int().min(0).optional(), memberLimit: z.number().int().min(1).max(1000).optional() },
      annotations: { readOnlyHint: true },
    },
    async ({ key: k, memberOffset, memberLimit }) => answer(() => client.tree(k, { memberOffset, memberLimit })),
  );
  server.registerTool(
    'signature_logs',
    {
      description: "Log lines of a signature (written by its task with ctx.log, and the runtime's notable events), oldest first; with wholeWorkflow, of its members and callbacks too.",
      inputSchema: {
        key,
        levels: z.array(z.enum(['info', 'warn', 'error'])).optional(),
        text: z.string().optional(),
        limit: z.number().int().min(1).optional().describe('the newest this many'),
        wholeWorkflow: z.boolean().optional(),
      },
      annotations: { readOnlyHint: true },
    },
    async ({ key: k, levels, text, limit, wholeWorkflow }) => answer(() => client.logs(k, { levels, text, limit, tree: wholeWorkflow })),
  );
  server.registerTool(
    'list_tasks',
    { description: 'The tasks registered in the worker serving the dashboard, with their input schemas (what run_task accepts).', annotations: { readOnlyHint: true } },
    async () => answer(() => client.tasks()),
  );

  if (!options.allowControl) return server;

  for (const [action, description] of [
    ['suspend', 'Suspends a signature: a pending task will not start until resumed; a chain or swarm stops starting members. A running task cannot be suspended (interrupt it).'],
    ['resume', 'Resumes a suspended or interrupted signature.'],
    ['interrupt', 'Interrupts a signature now, even mid-run (the task body is aborted).'],
    ['retry', 'Starts a failed task again as a new signature with the same kwargs, callbacks and message; returns the new key.'],
  ] as const) {
    server.registerTool(action, { description, inputSchema: { key }, annotations: { destructiveHint: false } }, async ({ key: k }) => answer(() => client.act(action, k)));
  }
  server.registerTool(
    'cancel',
    {
      description: 'Cancels a signature: stops it and deletes it with its members and callbacks, for good. Needs confirm: true.',
      inputSchema: { key, confirm: z.boolean().describe('must be true: the deletion cannot be undone') },
      annotations: { destructiveHint: true },
    },
    async ({ key: k, confirm }) => answer(() => client.act('cancel', k, { confirm })),
  );
  server.registerTool(
    'run_task',
    {
      description: 'Starts a registered task with a JSON input (checked against its input schema first); returns the new signature key.',
      inputSchema: { task: z.string().min(1), input: z.unknown().optional() },
    },
    async ({ task, input }) => answer(async () => ({ key: await client.start(task, input ?? {}) })),
  );
  return server;
}

function listQuery(a: { statuses?: Status[]; kinds?: ('task' | 'chain' | 'swarm')[]; taskName?: string; text?: string; includeMembers?: boolean; cursor?: string; limit?: number }): ListQuery {
  return {
    ...(a.statuses?.length ? { statuses: a.statuses } : {}),
    ...(a.kinds?.length ? { kinds: a.kinds } : {}),
    ...(a.taskName ? { taskName: a.taskName } : {}),
    ...(a.text ? { text: a.text } : {}),
    ...(a.includeMembers ? {} : { roots: true }),
    ...(a.cursor ? { cursor: a.cursor } : {}),
    ...(a.limit ? { limit: a.limit } : {}),
  };
}
