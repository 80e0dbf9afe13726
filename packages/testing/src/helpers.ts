/** Small helpers for tests of Mageflow workflows. */

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs` with `what` in the message. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Records calls by name, for asserting which bodies and callbacks ran and how often. */
export class Recorder {
  readonly calls: { name: string; value: unknown; at: number }[] = [];

  record(name: string, value?: unknown): void {
    this.calls.push({ name, value, at: Date.now() });
  }

  count(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  values(name: string): unknown[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.value);
  }

  names(): string[] {
    return this.calls.map((c) => c.name);
  }
}

/** A unique prefix, so tests sharing one Redis or one Hatchet engine cannot collide. */
export function uniqueId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
