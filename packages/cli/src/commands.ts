/**
 * The `mageflow` commands, over an InspectionClient. Each prints for people (colours
 * only on a terminal) or, with --json, one JSON document (or JSON lines for streams).
 */
import { STATUSES, type KeyedLogEntry, type LogLevel, type Progress, type SignatureDetail, type Status, type StoreEvent, type InspectorTreeNode as TreeNode } from '@mageflow/core';
import { ClientError, type InspectionClient } from './client';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** whether stdout is a terminal (colours, redrawn progress bar). */
  tty: boolean;
  /** resolves when the user stops a follow (Ctrl-C). */
  interrupted: Promise<void>;
}

export interface Flags {
  json: boolean;
  status?: string;
  kind?: string;
  task?: string;
  text?: string;
  all: boolean;
  limit?: string;
  cursor?: string;
  follow: boolean;
  level?: string;
  tree: boolean;
  input?: string;
  yes: boolean;
}

const COLORS: Record<Status, number> = { pending: 90, active: 34, suspended: 33, interrupted: 33, canceled: 90, done: 32, failed: 31, marked_for_deletion: 35 };

export async function runCommand(client: InspectionClient, command: string, args: string[], flags: Flags, io: Io): Promise<number> {
  const paint = (status: Status, text: string = status) => (io.tty ? `\x1b[${COLORS[status]}m${text}\x1b[0m` : text);
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2) + '\n');
  const key = () => {
    const k = args[0];
    if (!k) throw new ClientError('USAGE', `mageflow ${command} needs a signature key`);
    return k;
  };

  switch (command) {
    case 'ls': {
      const statuses = list(flags.status);
      for (const s of statuses ?? []) if (!(STATUSES as readonly string[]).includes(s)) throw new ClientError('USAGE', `unknown status "${s}"; one of ${STATUSES.join(', ')}`);
      const query = {
        ...(statuses ? { statuses: statuses as Status[] } : {}),
        ...(flags.kind ? { kinds: list(flags.kind) as ('task' | 'chain' | 'swarm')[] } : {}),
        ...(flags.task ? { taskName: flags.task } : {}),
        ...(flags.text ? { text: flags.text } : {}),
        ...(flags.all ? {} : { roots: true }),
        ...(flags.cursor ? { cursor: flags.cursor } : {}),
        limit: flags.limit ? Number(flags.limit) : 50,
      };
      const page = await client.list(query);
      if (flags.json) return print(page), 0;
      if (page.items.length === 0) io.out('no signatures match\n');
      for (const item of page.items) {
        io.out(`${paint(item.status, item.status.padEnd(11))} ${item.kind.padEnd(5)} ${(item.name ?? item.taskName).padEnd(28)} ${item.key}  ${new Date(item.creationTime).toISOString()}\n`);
      }
      if (page.cursor) io.out(`more: mageflow ls --cursor '${page.cursor}'\n`);
      return 0;
    }
    case 'show': {
      const detail = await client.get(key());
      if (!detail) throw new ClientError('SIGNATURE_NOT_FOUND', `no signature is stored under "${key()}"`);
      if (flags.json) return print(detail), 0;
      io.out(describe(detail, paint));
      return 0;
    }
    case 'tree': {
      const tree = await client.tree(key());
      if (flags.json) return print(tree), 0;
      io.out(drawTree(tree, paint));
      return 0;
    }
    case 'logs': {
      const levels = list(flags.level) as LogLevel[] | undefined;
      const query = { ...(levels ? { levels } : {}), ...(flags.text ? { text: flags.text } : {}), tree: flags.tree };
      const show = (entry: KeyedLogEntry) =>
        io.out(flags.json ? JSON.stringify(entry) + '\n' : `${new Date(entry.at).toISOString()} ${levelTag(entry.level, io.tty)} ${entry.message}${entry.fields ? ' ' + JSON.stringify(entry.fields) : ''}${flags.tree ? `  (${entry.key})` : ''}\n`);
      const target = key();
      // follow first, then read: a line written in between is shown, possibly twice, never lost
      const seen = new Set<string>();
      const id = (e: KeyedLogEntry) => `${e.key}|${e.at}|${e.message}`;
      let stop: (() => Promise<void>) | undefined;
      const keys = flags.follow && flags.tree ? await treeKeys(client, target) : new Set([target]);
      if (flags.follow) {
        stop = await client.follow((event) => {
          if (event.type !== 'log' || !(keys.has(event.key) || (event.parent !== undefined && keys.has(event.parent)))) return;
          const entry = { ...event.entry, key: event.key };
          if ((levels && !levels.includes(entry.level)) || (flags.text && !JSON.stringify(entry).toLowerCase().includes(flags.text.toLowerCase()))) return;
          if (!seen.has(id(entry))) show(entry);
        });
      }
      for (const entry of await client.logs(target, query)) {
        seen.add(id(entry));
        show(entry);
      }
      if (stop) {
        await io.interrupted;
        await stop();
      }
      return 0;
    }
    case 'watch':
      return watch(client, key(), flags, io, paint);
    case 'suspend':
    case 'resume':
    case 'interrupt':
    case 'retry':
    case 'cancel': {
      const target = key();
      if (command === 'cancel' && !flags.yes) {
        throw new ClientError('CONFIRMATION_REQUIRED', `cancel deletes "${target}" with its members and callbacks, for good: run it again with --yes`);
      }
      const result = await client.act(command, target, { confirm: command === 'cancel' });
      if (flags.json) return print({ ok: true, action: command, ...result }), 0;
      io.out(command === 'retry' ? `retried ${target} as ${result.retriedAs}\n` : `${command}: ${target}\n`);
      return 0;
    }
    case 'run': {
      const task = args[0];
      if (!task) throw new ClientError('USAGE', 'mageflow run needs a task name');
      let input: unknown = {};
      if (flags.input !== undefined) {
        try {
          input = JSON.parse(flags.input);
        } catch (error) {
          throw new ClientError('USAGE', `--input is not JSON: ${(error as Error).message}`);
        }
      }
      const started = await client.start(task, input);
      if (flags.json) return print({ ok: true, key: started }), 0;
      io.out(`started ${task}: ${started}\n`);
      return 0;
    }
    default:
      throw new ClientError('USAGE', `unknown command "${command}"`);
  }
}

/** A live progress bar of a signature until it ends (JSON lines of its progress with --json). */
async function watch(client: InspectionClient, key: string, flags: Flags, io: Io, paint: (s: Status, t?: string) => string): Promise<number> {
  let detail = await client.get(key);
  if (!detail) throw new ClientError('SIGNATURE_NOT_FOUND', `no signature is stored under "${key}"`);
  const ended = (s: Status) => s === 'done' || s === 'failed' || s === 'canceled';
  const render = (d: SignatureDetail) => {
    if (flags.json) return io.out(JSON.stringify({ key: d.key, status: d.status, progress: d.progress ?? null }) + '\n');
    const line = `${paint(d.status, d.status.padEnd(11))} ${bar(d.progress, d.status)} ${d.name ?? d.taskName}`;
    io.out(io.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  render(detail);
  if (ended(detail.status)) return finish(detail);
  let done!: () => void;
  const over = new Promise<void>((r) => (done = r));
  let pending = false;
  const refresh = async () => {
    if (pending) return;
    pending = true;
    await new Promise((r) => setTimeout(r, 100)); // a burst of changes is one redraw
    pending = false;
    const next = await client.get(key).catch(() => null);
    if (!next) return done();
    detail = next;
    render(next);
    if (ended(next.status)) done();
  };
  const stop = await client.follow((event: StoreEvent) => {
    if (event.type === 'status' && (event.key === key || event.parent === key)) void refresh();
  });
  void refresh(); // a change between the first read and the subscription
  await Promise.race([over, io.interrupted]);
  await stop();
  return finish(detail!);

  function finish(d: SignatureDetail): number {
    if (!flags.json && io.tty) io.out('\n');
    return d.status === 'failed' ? 1 : 0;
  }
}

function bar(progress: Progress | undefined, status: Status): string {
  const width = 30;
  const fraction = progress ? progress.fraction : status === 'done' ? 1 : 0;
  const filled = Math.round(fraction * width);
  const counts = progress ? ` ${progress.done + progress.failed}/${progress.total}` : '';
  const eta = progress?.etaMs !== undefined ? ` ETA ${Math.ceil(progress.etaMs / 1000)}s` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%${counts}${eta}`;
}

function describe(d: SignatureDetail, paint: (s: Status, t?: string) => string): string {
  const lines = [
    `${d.name ?? d.taskName}  ${paint(d.status)}`,
    `  key        ${d.key}`,
    `  kind       ${d.kind}`,
    `  task       ${d.taskName}`,
    `  created    ${new Date(d.creationTime).toISOString()}`,
    ...(d.parent ? [`  member of  ${d.parent}`] : []),
    ...(d.attempt ? [`  attempts   ${d.attempt}`] : []),
    ...(d.worker ? [`  worker     ${d.worker}`] : []),
    `  TTL left   ${d.ttlSec ?? '-'} s`,
    `  kwargs     ${JSON.stringify(d.kwargs)}`,
    ...(d.message !== undefined ? [`  message    ${JSON.stringify(d.message)}`] : []),
    ...(d.hasResult ? [`  result     ${JSON.stringify(d.result)}`] : []),
    ...(d.errorInfo ? [`  error      ${d.errorInfo.name}: ${d.errorInfo.message} (after ${d.errorInfo.attempts} attempts)`] : []),
    ...(d.progress ? [`  progress   ${bar(d.progress, d.status)}`] : []),
    ...(d.successCallbacks.length ? [`  on success ${d.successCallbacks.join(', ')}`] : []),
    ...(d.errorCallbacks.length ? [`  on error   ${d.errorCallbacks.join(', ')}`] : []),
    ...(d.cleanupError ? [`  cleanup    failed: ${d.cleanupError.message}`] : []),
    '  timeline',
    ...d.timeline.map((e) => `    ${new Date(e.at).toISOString()}  ${e.from ? `${e.from} -> ` : ''}${paint(e.status)}${e.worker ? `  ${e.worker}` : ''}${e.attempt ? `  attempt ${e.attempt}` : ''}`),
  ];
  return lines.join('\n') + '\n';
}

function drawTree(root: TreeNode, paint: (s: Status, t?: string) => string): string {
  const out: string[] = [];
  const label = (n: TreeNode) =>
    `${n.name ?? n.taskName} ${paint(n.status, `[${n.status}]`)} ${n.kind !== 'task' ? n.kind + ' ' : ''}${n.key}${n.progress ? ` ${n.progress.done + n.progress.failed}/${n.progress.total}` : ''}`;
  const walk = (n: TreeNode, prefix: string, last: boolean, tag: string, top: boolean) => {
    out.push(top ? label(n) : `${prefix}${last ? '└─ ' : '├─ '}${tag}${label(n)}`);
    const inner = top ? '' : prefix + (last ? '   ' : '│  ');
    const kids: [TreeNode, string][] = [
      ...n.children.map((c) => [c, ''] as [TreeNode, string]),
      ...n.callbacks.success.map((c) => [c, 'on success: '] as [TreeNode, string]),
      ...n.callbacks.error.map((c) => [c, 'on error: '] as [TreeNode, string]),
      ...n.callbacks.cleanup.map((c) => [c, 'cleanup: '] as [TreeNode, string]),
    ];
    kids.forEach(([c, t], i) => walk(c, inner, i === kids.length - 1 && !(n.members && n.members.total > n.members.shown), t, false));
    if (n.members && n.members.total > n.members.offset + n.members.shown) out.push(`${inner}└─ … ${n.members.total - n.members.offset - n.members.shown} more members`);
  };
  walk(root, '', true, '', true);
  return out.join('\n') + '\n';
}

async function treeKeys(client: InspectionClient, key: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const visit = (n: TreeNode) => {
    keys.add(n.key);
    [...n.children, ...n.callbacks.success, ...n.callbacks.error, ...n.callbacks.cleanup].forEach(visit);
  };
  visit(await client.tree(key, { memberLimit: 1000 }));
  return keys;
}

function levelTag(level: LogLevel, tty: boolean): string {
  const text = level.toUpperCase().padEnd(5);
  if (!tty) return text;
  return `\x1b[${level === 'error' ? 31 : level === 'warn' ? 33 : 36}m${text}\x1b[0m`;
}

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((v) => v.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}
