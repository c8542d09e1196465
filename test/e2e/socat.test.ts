// What operators do: subscribe and report with nothing but socat.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sampleReports, TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await TestDaemon.start();
});
afterAll(() => daemon.cleanup());

it('a plain `socat -u` subscriber receives what `printf | socat` reports, with acks and errors', async () => {
  const subscriber = spawn('socat', ['-u', `UNIX-CONNECT:${daemon.eventsSocket}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let received = '';
  subscriber.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  try {
    // Wait until the daemon has placed the socat connection on a worker.
    await expect.poll(async () => (await daemon.stats()).subscribers).toBe(2);

    const input = [
      JSON.stringify({ ...sampleReports.state, ack: 1 }),
      '{"type":"state","opts":{"pool":"tank","id":"101","state":"sleeping"},"ack":2}',
      JSON.stringify(sampleReports.ct_netif),
      // The last line has no newline: half-close ends it.
    ].join('\n');
    const producer = spawnSync('socat', ['-', `UNIX-CONNECT:${daemon.reportSocket}`], { input, encoding: 'utf8', timeout: 10_000 });
    expect(producer.status).toBe(0);
    const replies = producer.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(replies).toEqual([
      { status: true, ack: 1, seq: 1 },
      {
        status: false,
        ack: 2,
        line: 2,
        message:
          'Invalid state report: opts.state must be one of "stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error" (got "sleeping")',
        issues: [
          {
            path: 'opts.state',
            message:
              'must be one of "stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error" (got "sleeping")',
          },
        ],
      },
    ]);

    await expect.poll(() => received.split('\n').length - 1).toBe(2);
    const events = received
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toEqual([
      { seq: 1, time: expect.any(String), ...sampleReports.state },
      { seq: 2, time: expect.any(String), ...sampleReports.ct_netif },
    ]);

    // `echo '{"cmd":"stats"}' | socat - UNIX-CONNECT:...` gets its answer and the daemon closes.
    const asked = Date.now();
    const stats = spawnSync('socat', ['-t', '5', '-', `UNIX-CONNECT:${daemon.eventsSocket}`], {
      input: '{"cmd":"stats"}\n',
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(JSON.parse(stats.stdout)).toMatchObject({ status: true, response: { events_published: 2, lines_rejected: 1 } });
    // Closed by the daemon, not by socat's 5 s timeout.
    expect(Date.now() - asked).toBeLessThan(4000);
  } finally {
    subscriber.kill();
  }
});
