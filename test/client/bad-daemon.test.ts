// The clients against a daemon that misbehaves (a fake server on a real Unix socket): one that
// accepts and never answers, one that sends a line that never ends, one that sends lines that are
// not events. Every command ends with a one-line message and its exit code, and nothing grows
// without bound (issue 27, findings 7 and 8).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { subscribe } from '../../src/client/subscription.js';
import { fetchStats } from '../../src/client/stats.js';
import { runCli, startCli } from '../helpers/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A Unix socket server that does `onConnection` with each client; returns the socket's path. */
async function fakeServer(onConnection: (socket: net.Socket) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-fake-'));
  const path = join(dir, 'events.sock');
  const sockets = new Set<net.Socket>();
  // Half-open, as eventd is: a client that has sent its command and ended its side still gets answers.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return path;
}

/** Reads and ignores whatever the client sends; never answers. */
const silent = (socket: net.Socket) => socket.resume();

/** Answers the first line with one that never ends: 64 KiB of "x" every few milliseconds. */
function endless(socket: net.Socket): void {
  socket.once('data', () => {
    const chunk = 'x'.repeat(64 * 1024);
    const timer = setInterval(() => {
      if (socket.destroyed) clearInterval(timer);
      else socket.write(chunk);
    }, 2);
    socket.on('close', () => clearInterval(timer));
  });
}

const quickTimeout = { EVENTD_REPLY_TIMEOUT: '1' };

describe('a daemon that accepts and never answers', () => {
  it('stats, stats --prometheus and top give up after the reply timeout with exit 3', async () => {
    const path = await fakeServer(silent);
    for (const args of [['stats'], ['stats', '--prometheus'], ['top', '--count', '2']]) {
      const started = Date.now();
      const result = await runCli([...args, '--events-socket', path], { env: quickTimeout });
      expect(result.code, args.join(' ')).toBe(3);
      expect(result.stderr).toMatch(/^eventd: eventd did not answer (stats|metrics|event_subscribe) within 1 s\n$/);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  it('report gives up after the reply timeout with exit 3', async () => {
    const path = await fakeServer(silent);
    const result = await runCli(['report', 'state', 'pool=tank', 'id=1', 'state=running', '--report-socket', path], { env: quickTimeout });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('eventd: eventd did not answer a report within 1 s\n');
  });

  it('wait --timeout exits 4, even while the subscription is unanswered', async () => {
    const path = await fakeServer(silent);
    const result = await runCli(['wait', 'ct_exit', '--timeout', '1', '--events-socket', path]);
    expect(result.code).toBe(4);
    expect(result.stderr).toBe('eventd: no matching ct_exit event within 1 s\n');
  });

  it('the library rejects with EVENTD_UNREACHABLE instead of hanging', async () => {
    const path = await fakeServer(silent);
    await expect(fetchStats(path, 200)).rejects.toMatchObject({
      code: 'EVENTD_UNREACHABLE',
      message: 'eventd did not answer stats within 0.2 s',
    });
    const subscription = subscribe({ eventsSocket: path, replyTimeoutMs: 200 });
    await expect(subscription.ready()).rejects.toMatchObject({ code: 'EVENTD_UNREACHABLE' });
  });
});

describe('a daemon that sends a line that never ends', () => {
  it('stats stops at the line cap with exit 3 instead of growing', async () => {
    const path = await fakeServer(endless);
    const result = await runCli(['stats', '--events-socket', path], { env: { EVENTD_REPLY_TIMEOUT: '60' } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^eventd: the server sent a line longer than \d+ characters: it is not eventd, or not well\n$/);
  }, 60_000);
});

describe('a daemon that sends lines that are not events', () => {
  for (const [name, line] of [
    ['null', 'null'],
    ['a number', '42'],
    ['an object without seq', '{"type":"state","opts":{}}'],
  ] as const) {
    it(`monitor --reconnect takes ${name} for a broken connection, says so once, and reconnects`, async () => {
      let connections = 0;
      const path = await fakeServer((socket) => {
        connections++;
        socket.once('data', () => {
          socket.write('{"status":true,"response":"subscribed","run":"r1"}\n');
          socket.write(`${line}\n`);
        });
      });
      const monitor = startCli(['monitor', '--reconnect', '--events-socket', path]);
      cleanups.push(() => monitor.child.kill());
      await expect.poll(() => connections, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      expect(monitor.stderr).toMatch(/^eventd: connection lost \(eventd sent a line that is not an event: .*\); reconnecting\n/);
      expect(monitor.stderr.match(/connection lost/g)).toHaveLength(1);
      expect(monitor.stderr).not.toMatch(/Cannot read properties/);
    });
  }

  it('monitor without --reconnect stops with exit 3 and a one-line message', async () => {
    const path = await fakeServer((socket) => {
      socket.once('data', () => socket.write('{"status":true,"response":"subscribed","run":"r1"}\nnull\n'));
    });
    const result = await runCli(['monitor', '--events-socket', path]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('eventd: eventd sent a line that is not an event: null\n');
  });
});
