/**
 * The single-page app's files, built by Vite into this package's `dist/ui`. Any path
 * that is not a file is the app's (it routes in the page), so it gets index.html.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Context } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Where the built app is: beside the bundle (dist/ui), or, running from source, in dist/ui. */
export function defaultUiDir(): string | undefined {
  for (const dir of [join(__dirname, 'ui'), join(__dirname, '..', '..', 'dist', 'ui')]) if (existsSync(join(dir, 'index.html'))) return dir;
  return undefined;
}

export async function serveUi(c: Context, uiDir = defaultUiDir()): Promise<Response> {
  if (!uiDir) return c.text('The dashboard page is not built: run `npm run build` in packages/dashboard. The JSON API is under /api.', 503);
  const path = normalize(join(uiDir, decodeURIComponent(new URL(c.req.url).pathname)));
  if (!path.startsWith(uiDir + sep) && path !== uiDir) return c.text('not found', 404);
  const file = (await isFile(path)) ? path : join(uiDir, 'index.html');
  const body = await readFile(file);
  const hashed = file.includes(`${sep}assets${sep}`);
  return c.body(body, 200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
