/**
 * The dashboard's HTTP API: a thin layer over core's `Inspector` (JSON in and out), the
 * change feed as server-sent events, and the single-page app's files. Security: a token
 * when one is set (bearer header, or a cookie the page gets from `?token=`), read-only
 * mode, and control requests that a page on another site cannot make (POST with a JSON
 * body and a custom header, which a cross-site form cannot send, and an Origin, when
 * sent, that is this server's).
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { ACTIONS, MageflowError, type Action, type Inspector, type ListQuery, type LogLevel, type StoreEvent } from '@mageflow/core';
import { serveUi } from './static';

export interface DashboardAppOptions {
  /** refuse every control action (they answer 403). */
  readOnly?: boolean;
  /** when set, every request must carry it (Authorization: Bearer, or the cookie set by `?token=`). */
  token?: string;
  /** why control is off, shown by the page (e.g. "no engine in this process"). */
  readOnlyReason?: string;
  /** folder of the built single-page app; default: the one shipped in this package. */
  uiDir?: string;
  /** how often an idle event stream sends a keep-alive comment, in ms. Default 15,000. */
  keepAliveMs?: number;
}

/** The header every control request carries (a cross-site form or image cannot set it). */
export const REQUEST_HEADER = 'x-mageflow-request';
const TOKEN_COOKIE = 'mageflow_token';

export function createDashboardApp(inspector: Inspector, options: DashboardAppOptions = {}): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    if (options.token) {
      const given = c.req.query('token');
      if (given !== undefined && same(given, options.token)) {
        // the page's link carries the token once; the browser keeps it in a cookie scripts cannot read
        setCookie(c, TOKEN_COOKIE, given, { httpOnly: true, sameSite: 'Strict', path: '/' });
      } else {
        const bearer = c.req.header('authorization')?.replace(/^Bearer\s+/i, '');
        const cookie = getCookie(c, TOKEN_COOKIE);
        if (!(bearer && same(bearer, options.token)) && !(cookie && same(cookie, options.token))) {
          return c.json({ error: { code: 'UNAUTHORIZED', message: 'this dashboard needs its token: open the link it printed, or send Authorization: Bearer <token>' } }, 401);
        }
      }
    }
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    c.header('Referrer-Policy', 'no-referrer');
    await next();
  });

  // --- control requests: POST only, JSON, with our header, from this origin -------------------------
  app.post('/api/*', async (c, next) => {
    if (options.readOnly) return c.json({ error: { code: 'READ_ONLY', message: options.readOnlyReason ?? 'this dashboard is read-only' } }, 403);
    const origin = c.req.header('origin');
    const host = c.req.header('host');
    if (c.req.header(REQUEST_HEADER) !== '1' || (origin !== undefined && origin !== 'null' && host !== undefined && new URL(origin).host !== host) || origin === 'null') {
      return c.json({ error: { code: 'CROSS_SITE', message: `control requests must come from the dashboard's own page (header ${REQUEST_HEADER}: 1, same origin)` } }, 403);
    }
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      return c.json({ error: { code: 'INVALID_ARGUMENT', message: 'control requests send a JSON body (Content-Type: application/json)' } }, 415);
    }
    await next();
  });

  app.onError((error, c) => {
    if (error instanceof MageflowError) return c.json({ error: { code: error.code, message: error.message } }, statusOf(error.code));
    return c.json({ error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } }, 500);
  });

  // --- reading ---------------------------------------------------------------------------------------
  app.get('/api/info', (c) =>
    c.json({ namespace: inspector.mf.store.namespace ?? null, readOnly: !!options.readOnly, readOnlyReason: options.readOnlyReason ?? null, tasks: inspector.tasks(), actions: ACTIONS }),
  );
  app.get('/api/tasks', (c) => c.json(inspector.tasks()));
  app.get('/api/signatures', async (c) => c.json(await inspector.list(listQuery(c))));
  app.get('/api/counts', async (c) => c.json(await inspector.counts(listQuery(c))));
  app.get('/api/signatures/:key', async (c) => {
    const detail = await inspector.get(c.req.param('key'));
    return detail ? c.json(detail) : notFound(c, c.req.param('key'));
  });
  app.get('/api/signatures/:key/tree', async (c) =>
    c.json(await inspector.tree(c.req.param('key'), { memberOffset: int(c.req.query('offset')), memberLimit: int(c.req.query('limit')) })),
  );
  app.get('/api/signatures/:key/timeline', async (c) => c.json(await inspector.timeline(c.req.param('key'))));
  app.get('/api/signatures/:key/waterfall', async (c) => c.json(await waterfall(inspector, c.req.param('key'))));
  app.get('/api/signatures/:key/logs', async (c) => {
    const levels = c.req.queries('level') as LogLevel[] | undefined;
    const logs = await inspector.logs(c.req.param('key'), {
      ...(levels ? { levels } : {}),
      ...(c.req.query('text') ? { text: c.req.query('text') } : {}),
      ...(c.req.query('limit') ? { limit: int(c.req.query('limit')) } : {}),
      tree: c.req.query('tree') === '1',
    });
    if (c.req.query('format') !== 'jsonl') return c.json(logs);
    c.header('Content-Type', 'application/x-ndjson; charset=utf-8');
    c.header('Content-Disposition', `attachment; filename="${c.req.param('key').replace(/[^\w.-]/g, '_')}-logs.jsonl"`);
    return c.body(logs.map((l) => JSON.stringify(l)).join('\n') + (logs.length ? '\n' : ''));
  });

  // --- following: server-sent events ---------------------------------------------------------------
  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      const queue: StoreEvent[] = [];
      let wake: (() => void) | undefined;
      const subscription = await inspector.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      await stream.writeSSE({ event: 'ready', data: '{}' });
      try {
        while (open) {
          if (queue.length === 0) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, options.keepAliveMs ?? 15_000);
            });
            clearTimeout(timer); // woken by an event: this wait's keep-alive is not needed
            wake = undefined;
            if (queue.length === 0 && open) await stream.write(': keep-alive\n\n');
            continue;
          }
          const batch = queue.splice(0, queue.length);
          await stream.writeSSE({ event: 'batch', data: JSON.stringify(batch) });
        }
      } finally {
        await subscription.close();
      }
    }),
  );

  // --- acting ------------------------------------------------------------------------------------------
  app.post('/api/signatures/:key/:action', async (c) => {
    const action = c.req.param('action') as Action;
    if (!(ACTIONS as readonly string[]).includes(action)) return c.json({ error: { code: 'INVALID_ARGUMENT', message: `unknown action "${action}"` } }, 400);
    const body = await jsonBody(c);
    return c.json(await inspector.act(action, c.req.param('key'), { confirm: body.confirm === true }));
  });
  app.post('/api/bulk/:action', async (c) => {
    const body = await jsonBody(c);
    const filter = (body.filter ?? {}) as ListQuery;
    return c.json(await inspector.bulk(c.req.param('action') as Action, { ...filter, cursor: undefined }, { confirm: body.confirm === true, max: typeof body.max === 'number' ? body.max : undefined }));
  });
  app.post('/api/tasks/:name/run', async (c) => {
    const body = await jsonBody(c);
    return c.json({ key: await inspector.start(c.req.param('name'), body.input) });
  });

  app.all('/api/*', (c) => c.json({ error: { code: 'NOT_FOUND', message: `no API route ${c.req.method} ${c.req.path}` } }, 404));
  app.get('*', (c) => serveUi(c, options.uiDir));
  return app;
}

function listQuery(c: Context): ListQuery {
  const q = (name: string) => c.req.query(name) || undefined;
  const list = (name: string) => c.req.queries(name)?.flatMap((v) => v.split(',')).filter(Boolean);
  const query: ListQuery = {};
  const kinds = list('kind');
  const statuses = list('status');
  if (kinds?.length) query.kinds = kinds as ListQuery['kinds'];
  if (statuses?.length) query.statuses = statuses as ListQuery['statuses'];
  if (q('task')) query.taskName = q('task');
  if (q('roots') === '1') query.roots = true;
  if (q('text')) query.text = q('text');
  if (q('from')) query.from = Number(q('from'));
  if (q('to')) query.to = Number(q('to'));
  if (q('cursor')) query.cursor = q('cursor');
  if (q('limit')) query.limit = int(q('limit'));
  return query;
}

/** The members of a container with when each ran (from their timelines), for the waterfall view. */
async function waterfall(inspector: Inspector, key: string) {
  const tree = await inspector.tree(key, { memberLimit: 200, depth: 1 });
  const rows = [tree, ...tree.children];
  return Promise.all(
    rows.map(async (node) => {
      const timeline = await inspector.timeline(node.key);
      const start = timeline.find((e) => e.status === 'active')?.at;
      const end = ['done', 'failed', 'canceled', 'interrupted'].includes(node.status) ? timeline.at(-1)?.at : undefined;
      return { key: node.key, taskName: node.taskName, name: node.name, status: node.status, createdAt: timeline[0]?.at, start, end };
    }),
  );
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  try {
    const body = await c.req.json();
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function int(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

function notFound(c: Context, key: string) {
  return c.json({ error: { code: 'SIGNATURE_NOT_FOUND', message: `no signature is stored under "${key}"` } }, 404);
}

function statusOf(code: string): 400 | 404 | 409 | 423 | 428 | 503 | 500 {
  switch (code) {
    case 'SIGNATURE_NOT_FOUND':
    case 'UNRECOGNIZED_TASK':
      return 404;
    case 'CONFIRMATION_REQUIRED':
      return 428;
    case 'TASK_ALREADY_RUNNING':
    case 'INVALID_TRANSITION':
    case 'SWARM_IS_CANCELED':
    case 'SWARM_IS_CLOSED':
      return 409;
    case 'SIGNATURE_LOCKED':
      return 423;
    case 'STORE_UNAVAILABLE':
      return 503;
    case 'INVALID_ARGUMENT':
    case 'INVALID_INPUT':
    case 'TOO_MANY_TASKS':
      return 400;
    default:
      return 500;
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
