/**
 * A change-feed subscription on PostgreSQL: a connection of its own (a LISTENing
 * connection cannot go back to the pool) on the channel named as the schema, and a row
 * in `subscriber` renewed while it listens, so the store's steps publish only while
 * someone does (see migration-2.ts, `record_changed`).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { LogEntry, StoreEvent, TimelineEntry } from '@mageflow/core';
import { decodeTimelineEntry, type EncodedEntry } from './codec';

/** How long a subscriber row lives without renewal: a process that died stops the publishing after this. */
const SUBSCRIBER_TTL_SEC = 60;
const RENEW_EVERY_MS = 20_000;

export class FeedListener {
  private readonly id = randomUUID();
  private client: pg.Client | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  /** notifications are handled one after the other, so events keep their order (an overflow read included). */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly S: string,
    private readonly channel: string,
    private readonly listener: (event: StoreEvent) => void,
    private readonly translate: (error: unknown) => Error,
  ) {}

  async open(): Promise<void> {
    const client = new pg.Client(this.pool.options as pg.ClientConfig);
    // a listening connection that drops ends the events (the feed is best effort); it must not crash the process
    client.on('error', () => undefined);
    client.on('notification', (message) => {
      if (this.closed || message.channel !== this.channel || !message.payload) return;
      const payload = message.payload;
      this.chain = this.chain.then(() => this.deliver(payload)).catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      this.client = client;
      await this.register();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.translate(error);
    }
    this.renewTimer = setInterval(() => void this.register().catch(() => undefined), RENEW_EVERY_MS);
    this.renewTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    await this.pool.query(`DELETE FROM ${this.S}.subscriber WHERE id = $1`, [this.id]).catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }

  private async register(): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.S}.subscriber (id, expires_at) VALUES ($1, now() + make_interval(secs => $2))
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
      [this.id, SUBSCRIBER_TTL_SEC],
    );
  }

  private async deliver(payload: string): Promise<void> {
    let message = JSON.parse(payload) as Record<string, unknown>;
    if (typeof message.overflow === 'number') {
      // too long for NOTIFY: parked in a row for a few minutes
      const { rows } = await this.pool.query<{ payload: string }>(`SELECT payload FROM ${this.S}.feed_overflow WHERE id = $1`, [message.overflow]);
      if (!rows[0]) return;
      message = JSON.parse(rows[0].payload) as Record<string, unknown>;
    }
    const event = toEvent(message);
    if (!event || this.closed) return;
    try {
      this.listener(event);
    } catch {
      // the listener's own problem
    }
  }
}

/** A published message as an event; undefined for one that is not (a foreign NOTIFY on the channel, a corrupt record). */
function toEvent(message: Record<string, unknown>): StoreEvent | undefined {
  const key = message.key;
  if (typeof key !== 'string') return undefined;
  try {
    const decode = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : undefined);
    if (message.type === 'log') {
      const parent = decode(message.parent);
      return { type: 'log', key, ...(typeof parent === 'string' ? { parent } : {}), entry: message.entry as LogEntry };
    }
    if (message.type !== 'status') return undefined;
    const kind = decode(message.kind);
    const taskName = decode(message.taskName);
    const parent = decode(message.parent);
    const entry: TimelineEntry = decodeTimelineEntry(message.entry as EncodedEntry, key);
    return { type: 'status', key, kind: kind as never, taskName: taskName as string, ...(typeof parent === 'string' ? { parent } : {}), entry };
  } catch {
    return undefined;
  }
}
