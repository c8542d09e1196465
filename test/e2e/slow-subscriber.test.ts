// A subscriber that stops reading is cut off at its queue bound; nobody else notices.
import net from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LineSplitter } from '../../src/client/lines.js';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
const MAX_PENDING = 1024 * 1024;

beforeAll(async () => {
  daemon = await TestDaemon.start({ args: ['--max-pending-bytes', String(MAX_PENDING), '--history', '100'] });
});
afterAll(() => daemon.cleanup());

it('drops a subscriber that never reads, keeps memory bounded, and delivers everything to the others', async () => {
  // Never reads: created paused, so not even Node's own buffer drains the kernel's.
  const stalled = net.connect(daemon.eventsSocket);
  stalled.pause();
  await once(stalled, 'connect');
  const healthy = await daemon.subscriber();
  const producer = await daemon.producer();
  const rssBefore = daemon.rssBytes();

  const pad = 'x'.repeat(4000);
  const total = 30000; // about 120 MB of events, far past the bound and the kernel's buffers
  let received = 0;
  let expectedId = 0;
  let ordered = true;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, daemon.rssBytes())), 20);
  let caughtUp: (() => void) | null = null;
  let sent = 0;
  const done = new Promise<void>((resolve) => {
    const splitter = new LineSplitter();
    healthy.socket.removeAllListeners('data');
    healthy.socket.on('data', (chunk: string) => {
      for (const line of splitter.push(chunk)) {
        const event = JSON.parse(line) as { opts: { id: number } };
        if (event.opts.id !== expectedId++) ordered = false;
        if (++received === total) resolve();
      }
      if (received === sent) caughtUp?.();
    });
  });
  for (let i = 0; i < total; i += 100) {
    const lines = [];
    for (let j = i; j < i + 100; j++)
      lines.push(JSON.stringify({ type: 'management', opts: { id: j, cmd: 'pad', opts: { pad }, state: 'run' } }));
    // The healthy subscriber keeps up (this test process is its only bottleneck); the stalled one never reads.
    const turn = new Promise<void>((resolve) => (caughtUp = resolve));
    sent += lines.length;
    producer.send(`${lines.join('\n')}\n`);
    await turn;
  }
  await done;
  clearInterval(sampler);

  expect(ordered).toBe(true);
  expect(received).toBe(total);
  const stats = await daemon.stats();
  expect(stats.subscribers_dropped_slow).toBe(1);
  await daemon.waitForLog((record) => record.msg === 'subscriber dropped: too slow');
  // 120 MB went through (history kept to 100 events): had the stalled subscriber's queue not
  // been cut at 1 MiB, the daemon would hold all of it. Garbage collection lags, so the bound
  // is loose, but well under what an unbounded queue needs.
  console.log(`slow subscriber: RSS ${(rssBefore / 1048576).toFixed(1)} MiB before, ${(peakRss / 1048576).toFixed(1)} MiB at peak`);
  expect(peakRss).toBeLessThan(rssBefore + 100 * 1024 * 1024);
  stalled.destroy();
  producer.destroy();
  healthy.destroy();
});

it('gives a subscriber that reads late every byte it was queued, while its worker reuses the memory of what was written', async () => {
  // One worker: both subscribers take their events from the same copies of the ring's records.
  const one = await TestDaemon.start({ args: ['--workers', '1'] });
  try {
    const late = await one.subscriber();
    late.socket.pause();
    const prompt = await one.subscriber();
    const producer = await one.producer();
    const total = 20_000; // about 4 MB, under the 8 MiB queue bound
    const pad = 'p'.repeat(100);
    for (let i = 0; i < total; i += 500) {
      const lines = [];
      for (let j = i; j < i + 500; j++)
        lines.push(JSON.stringify({ type: 'management', opts: { id: j, cmd: 'reuse', opts: { pad }, state: 'run' } }));
      producer.send(`${lines.join('\n')}\n`);
      // The prompt one keeps up: record after record is written to it and its memory comes back.
      const taken = await prompt.takeJson<{ opts: { id: number } }>(500);
      expect(taken.map((event) => event.opts.id)).toEqual(Array.from({ length: 500 }, (_, k) => i + k));
    }
    late.socket.resume();
    const events = await late.takeJson<{ seq: number; opts: { id: number; opts: { pad: string } } }>(total);
    expect(events.map((event) => event.opts.id)).toEqual(Array.from({ length: total }, (_, k) => k));
    expect(events.every((event, k) => event.seq === events[0]!.seq + k && event.opts.opts.pad === pad)).toBe(true);
    expect((await one.stats()).subscribers_dropped_slow).toBe(0);
    producer.destroy();
  } finally {
    await one.cleanup();
  }
});

it('delivers a since replay larger than the queue bound instead of dropping the subscriber', async () => {
  const replaying = await TestDaemon.start({ args: ['--max-pending-bytes', String(MAX_PENDING), '--history', '5000'] });
  try {
    const pad = 'x'.repeat(1000);
    const producer = await replaying.producer();
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({ type: 'management', opts: { id: i + 1, cmd: 'pad', opts: { pad }, state: 'run' }, ack: i + 1 }),
    );
    producer.send(`${lines.join('\n')}\n`);
    await producer.takeJson(5000);
    // About 5.5 MB of history, five times the 1 MiB bound.
    const late = await LineClient.connect(replaying.eventsSocket);
    late.sendJson({ cmd: 'event_subscribe', opts: { since: 0 } });
    let reply = await late.nextJson();
    while (reply.status === undefined) reply = await late.nextJson();
    expect(reply).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    const replayed = await late.takeJson<{ seq: number }>(5000);
    expect(replayed.map((event) => event.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    // The bound is back once the replay is sent: live events flow, nobody was dropped.
    const [seq] = await replaying.report({ type: 'ct_exit', opts: { pool: 'tank', id: '101', exit_type: 'halt' } });
    expect(await late.nextJson()).toMatchObject({ seq, type: 'ct_exit' });
    expect((await replaying.stats()).subscribers_dropped_slow).toBe(0);
    late.destroy();
    producer.destroy();
  } finally {
    await replaying.cleanup();
  }
});
