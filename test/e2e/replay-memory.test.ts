// Large histories and replaying clients that do not read: the history is bounded in bytes, a
// replay goes out a chunk at a time under the subscriber's bound, and no worker dies.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

const daemons: TestDaemon[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(daemons.splice(0).map((daemon) => daemon.cleanup()));
});

const MiB = 1024 * 1024;

/** Reports `count` management events whose opts carry `size` bytes each; resolves once all are published. */
async function fill(daemon: TestDaemon, count: number, size: number): Promise<void> {
  const producer = await daemon.producer();
  const blob = 'x'.repeat(size);
  for (let i = 1; i <= count; i++) {
    producer.send(
      `${JSON.stringify({ type: 'management', opts: { id: i, cmd: 'fill', opts: { blob }, state: 'done' }, ...(i === count ? { ack: 'last' } : {}) })}\n`,
    );
    if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  expect(await producer.nextJson(60_000)).toMatchObject({ status: true, ack: 'last' });
  producer.destroy();
}

/** A client that asks for the whole history and then never reads. */
function nonReader(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path, () => {
      socket.pause();
      socket.write('{"cmd":"event_subscribe","opts":{"since":0}}\n');
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

function watchPeak(daemon: TestDaemon): { stop(): number } {
  let peak = daemon.rssBytes();
  const timer = setInterval(() => (peak = Math.max(peak, daemon.rssBytes())), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, daemon.rssBytes());
    },
  };
}

const mib = (bytes: number) => Math.round(bytes / MiB);

describe('replaying a large history', () => {
  it('2,000 events of 60 KiB: the history keeps 64 MiB; 8 replaying clients that never read pin a chunk each; a reader gets every retained event', async () => {
    const daemon = await TestDaemon.start();
    daemons.push(daemon);
    const baseline = daemon.rssBytes();
    const peak = watchPeak(daemon);
    await fill(daemon, 2000, 60_000);
    const stats = await daemon.stats();
    expect(stats.history.bytes).toBeLessThanOrEqual(64 * MiB);
    expect(stats.history.retained).toBeLessThan(2000);
    const filled = daemon.rssBytes();

    const stalled = await Promise.all(Array.from({ length: 8 }, () => nonReader(daemon.eventsSocket)));
    const bystander = await daemon.subscriber({ type: 'state' });
    const reader = await LineClient.connect(daemon.eventsSocket);
    reader.sendJson({ cmd: 'event_subscribe', opts: { since: 0 } });
    expect(await reader.nextJson()).toStrictEqual({
      status: true,
      response: 'subscribed',
      run: expect.any(String),
      missed: stats.history.first_seq - 1,
    });
    const replayed = await reader.takeJson<{ seq: number }>(stats.history.retained, 30_000);
    expect(replayed.map((event) => event.seq)).toStrictEqual(
      Array.from({ length: stats.history.retained }, (_, i) => stats.history.first_seq + i),
    );
    // Live events still flow, to the reader (after its replay) and to a bystander.
    const [seq] = await daemon.report({ type: 'state', opts: { pool: 'tank', id: '1', state: 'running' } });
    expect(await reader.nextJson()).toMatchObject({ seq });
    expect(await bystander.nextJson()).toMatchObject({ seq });
    const during = peak.stop();

    for (const socket of stalled) socket.destroy();
    reader.destroy();
    await expect.poll(async () => (await daemon.stats()).subscribers, { timeout: 10_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = daemon.rssBytes();
    console.log(
      `60 KiB events: RSS ${mib(baseline)} MiB, ${mib(filled)} with the history, peak ${mib(during)} with 8 stalled replays, ${mib(after)} after they closed`,
    );
    expect(during).toBeLessThan(400 * MiB);
    expect(after - filled).toBeLessThan(64 * MiB);
    expect((await daemon.stats()).workers.map((worker: { restarts: number }) => worker.restarts)).toStrictEqual([0, 0]);
  });

  it('10,000 events of 1 KB and 200 replaying clients that never read: memory stays bounded and a bystander is served', async () => {
    const daemon = await TestDaemon.start();
    daemons.push(daemon);
    const peak = watchPeak(daemon);
    await fill(daemon, 10_000, 1000);
    const filled = daemon.rssBytes();
    const bystander = await daemon.subscriber({ type: 'state' });
    const stalled: net.Socket[] = [];
    for (let i = 0; i < 200; i++) stalled.push(await nonReader(daemon.eventsSocket));
    await expect.poll(async () => (await daemon.stats()).subscribers, { timeout: 20_000 }).toBe(202);
    const [seq] = await daemon.report({ type: 'state', opts: { pool: 'tank', id: '2', state: 'stopped' } });
    expect(await bystander.nextJson(5000)).toMatchObject({ seq });
    const during = peak.stop();
    for (const socket of stalled) socket.destroy();
    console.log(`1 KB events: RSS ${mib(filled)} MiB with the history, peak ${mib(during)} with 200 stalled replays`);
    expect(during).toBeLessThan(400 * MiB);
    expect((await daemon.stats()).workers.map((worker: { restarts: number }) => worker.restarts)).toStrictEqual([0, 0]);
  });

  it('drops, as slow, a replaying client whose history was evicted before it read it', async () => {
    const daemon = await TestDaemon.start({ args: ['--history', '2000'] });
    daemons.push(daemon);
    await fill(daemon, 2000, 500);
    const client = await LineClient.connect(daemon.eventsSocket);
    client.socket.pause();
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 0 } });
    // Once its replay has begun (the daemon counts it), the whole history is replaced while it does not read.
    await expect.poll(async () => (await daemon.stats()).replays, { timeout: 10_000 }).toBe(1);
    await fill(daemon, 2000, 500);
    client.socket.resume();
    await client.closed;
    // Counted when its worker tells the main thread, which may be after the stats connection asks.
    await expect.poll(async () => (await daemon.stats()).subscribers_dropped_slow).toBe(1);
  });
});
