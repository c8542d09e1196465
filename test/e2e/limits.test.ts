// Connection limits against the real daemon: --max-connections per socket, the deadline for an
// unfinished line, and memory after a storm of clients sending one byte per write.
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { sampleReports, TestDaemon } from '../helpers/daemon.js';

const daemons: TestDaemon[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(daemons.splice(0).map((daemon) => daemon.cleanup()));
});

async function start(args: string[]): Promise<TestDaemon> {
  const daemon = await TestDaemon.start({ args, osctld: true });
  daemons.push(daemon);
  return daemon;
}

async function connect(path: string): Promise<LineClient> {
  const client = await LineClient.connect(path);
  clients.push(client);
  return client;
}

describe('--max-connections', () => {
  it('refuses the connection past the limit on each socket with one error line, and takes one again once another closes', async () => {
    const daemon = await start(['--max-connections', '2']);
    for (const [name, path] of [
      ['report', daemon.reportSocket],
      ['events', daemon.eventsSocket],
      ['osctld', daemon.osctldSocket],
    ] as const) {
      const first = await connect(path);
      const second = await connect(path);
      if (name !== 'report') {
        // Subscribers count once a worker has them: a reply proves it.
        for (const client of [first, second]) {
          if (name === 'osctld') await client.next();
          client.sendJson({ cmd: 'event_subscribe' });
          while (!('status' in (await client.nextJson()))) {}
        }
      }
      const third = await connect(path);
      expect(await third.nextJson()).toStrictEqual({
        status: false,
        message: `eventd has 2 connections on its ${name} socket, the most it takes (--max-connections); try again later`,
      });
      await third.closed;
      first.destroy();
      await expect
        .poll(async () => {
          const again = await connect(path);
          if (name === 'report') {
            again.sendJson({ ...sampleReports.state, ack: 1 });
          } else if (name === 'osctld') {
            return (await again.nextJson()).version !== undefined;
          } else {
            again.sendJson({ cmd: 'stats' });
          }
          const reply = await again.nextJson();
          again.destroy();
          return reply.status === true;
        })
        .toBe(true);
      second.destroy();
    }
    expect((await daemon.stats()).connections_refused).toBeGreaterThanOrEqual(3);
  });
});

describe('--line-timeout', () => {
  it('closes a producer or subscriber that leaves a line unfinished, and no one that keeps finishing lines', async () => {
    const daemon = await start(['--line-timeout', '1']);
    const producer = await connect(daemon.reportSocket);
    const subscriber = await connect(daemon.eventsSocket);
    subscriber.sendJson({ cmd: 'event_subscribe', opts: { type: 'ct_exit' } });
    await subscriber.nextJson();
    const busy = await connect(daemon.reportSocket);
    // Lines split across writes, each finished well within the deadline, for twice as long.
    const line = JSON.stringify({ ...sampleReports.state, ack: 0 });
    const timer = setInterval(() => {
      busy.send(line.slice(0, 20));
      setTimeout(() => busy.send(`${line.slice(20)}\n`), 100);
    }, 200);
    const started = Date.now();
    producer.send('{"type":"state","opts":');
    subscriber.send('{"cmd":"st');
    expect(await producer.nextJson()).toStrictEqual({
      status: false,
      message: 'Line 1 was not finished within 1 s; closing the connection',
    });
    expect(await subscriber.nextJson()).toStrictEqual({
      status: false,
      message: 'Line 2 was not finished within 1 s; closing the connection',
    });
    await producer.closed;
    await subscriber.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    clearInterval(timer);
    expect(busy.ended).toBe(false);
    const acks = await busy.takeJson(8);
    expect(acks.every((ack) => ack.status === true)).toBe(true);
  });
});

describe('a storm of one byte per write', () => {
  it('holds one small buffer per connection, and memory comes back near the baseline', { timeout: 90_000 }, async () => {
    const daemon = await start([]);
    const baseline = daemon.rssBytes();
    const storm = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => connect(i % 2 === 0 ? daemon.reportSocket : daemon.eventsSocket)),
    );
    const text = '{"type":"state","opts":{"pool":"tank","id":"101","state":"running"},"ack":"slow'.padEnd(1000, 'x');
    let peak = baseline;
    for (let at = 0; at < text.length; at++) {
      for (const client of storm) client.send(text[at]!);
      if (at % 20 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        peak = Math.max(peak, daemon.rssBytes());
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    peak = Math.max(peak, daemon.rssBytes());
    for (const client of storm) client.destroy();
    await expect.poll(async () => (await daemon.stats()).producers, { timeout: 10_000 }).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = daemon.rssBytes();
    const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
    console.log(
      `slow-byte storm, 1000 connections x ${text.length} one-byte writes: RSS ${mib(baseline)} -> peak ${mib(peak)} -> ${mib(after)} MiB after close`,
    );
    // 1 MB of unfinished lines in all (before this bound: peak +176 MiB, +170 MiB after close).
    expect(peak - baseline).toBeLessThan(120 * 1024 * 1024);
    expect(after - baseline).toBeLessThan(60 * 1024 * 1024);
  });
});
