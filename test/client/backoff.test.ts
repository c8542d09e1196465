// Reconnect timing with vitest's fake timers: the backoff doubles from 100 ms to its cap and
// starts again after a success; a subscription with `reconnect` retries exactly on that schedule.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../src/client/backoff.js';
import { subscribe } from '../../src/client/subscription.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Lets real I/O (a failed connect) complete while the clock stands still. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error('condition not met');
}

describe('Backoff', () => {
  it('doubles up to its cap, and starts again after reset', () => {
    const backoff = new Backoff(100, 1000);
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});

describe('subscribe({ reconnect: true })', () => {
  it('retries a missing daemon after 100, 200, 400, … ms, at most 2 s apart, until closed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const dir = mkdtempSync(join(tmpdir(), 'eventd-backoff-'));
    try {
      // Every attempt is a connect (onDisconnect is told once per outage, not at each retry).
      let attempts = 0;
      let told = 0;
      const connect = net.connect.bind(net);
      vi.spyOn(net, 'connect').mockImplementation(((...args: Parameters<typeof net.connect>) => {
        attempts++;
        return connect(...args);
      }) as typeof net.connect);
      const subscription = subscribe({ eventsSocket: join(dir, 'none.sock'), reconnect: true, onDisconnect: () => told++ });
      const iterating = subscription[Symbol.asyncIterator]().next();
      await until(() => attempts === 1);
      for (const wait of [100, 200, 400, 800, 1600, 2000, 2000]) {
        const before = attempts;
        // Not a moment early…
        await vi.advanceTimersByTimeAsync(wait - 1);
        await until(() => true);
        expect(attempts).toBe(before);
        // …and right on time.
        await vi.advanceTimersByTimeAsync(1);
        await until(() => attempts === before + 1);
      }
      expect(told).toBe(1);
      subscription.close();
      await vi.advanceTimersByTimeAsync(2000);
      expect(await iterating).toEqual({ done: true, value: undefined });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
