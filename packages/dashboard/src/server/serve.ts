/**
 * `serveDashboard(mf, { port })`: the dashboard over a Mageflow client, from code.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Inspector, InvalidArgumentError, type InspectorOptions, type Mageflow } from '@mageflow/core';
import { createDashboardApp } from './app';

export interface DashboardOptions {
  /** Default 4400; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. Anything else needs a token (one is generated and printed when not given). */
  host?: string;
  /** the token requests must carry; required off loopback (generated when not given). */
  token?: string;
  /** no control actions: the page only shows. */
  readOnly?: boolean;
  /** why control is off, shown by the page. */
  readOnlyReason?: string;
  /** masks user values (kwargs, messages, results, error messages, log fields) before they leave. */
  redact?: InspectorOptions['redact'];
  /** where startup lines go. Default console.log; null: nowhere. */
  print?: ((line: string) => void) | null;
  /** folder of the built page (default: the one in this package). */
  uiDir?: string;
}

export interface RunningDashboard {
  /** the page's address (with `?token=` when a token is needed). */
  url: string;
  port: number;
  host: string;
  token?: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export async function serveDashboard(mf: Mageflow, options: DashboardOptions = {}): Promise<RunningDashboard> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 4400;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port must be 0..65535, got ${String(port)}`);
  const token = options.token ?? (LOOPBACK.has(host) ? undefined : randomBytes(18).toString('base64url'));
  const app = createDashboardApp(new Inspector(mf, { redact: options.redact }), { readOnly: options.readOnly, readOnlyReason: options.readOnlyReason, token, uiDir: options.uiDir });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${bound}/${token ? `?token=${token}` : ''}`;
  const print = options.print === null ? undefined : options.print ?? ((line: string) => console.log(line));
  print?.(`Mageflow dashboard on ${url}${options.readOnly ? ' (read-only)' : ''}`);
  if (token && !options.token) print?.(`  a token was generated, as the dashboard listens on ${host}: ${token}`);
  return {
    url,
    port: bound,
    host,
    ...(token ? { token } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        // open event streams would hold close() forever
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
