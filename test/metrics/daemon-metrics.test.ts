// `serve --metrics-listen` and `stats --prometheus`: scraped with a real HTTP client (Node's
// fetch) after known traffic, and checked by Prometheus' own promtool.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { sampleReports, TestDaemon } from '../helpers/daemon.js';

const daemons: TestDaemon[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

async function start(args: string[] = []): Promise<{ daemon: TestDaemon; url: string }> {
  const daemon = await TestDaemon.start({ args: ['--metrics-listen', '127.0.0.1:0', '--max-line-bytes', '1024', ...args] });
  daemons.push(daemon);
  const ready = daemon.logs.find((record) => record.msg === 'eventd ready')!;
  return { daemon, url: ready.metrics as string };
}

/** `name{labels}` → value, from the exposition text (comments skipped). */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    map.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return map;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return samples(await response.text());
}

/** Sends raw lines on one producer connection and waits for one reply per line. */
async function produce(daemon: TestDaemon, lines: string[]): Promise<void> {
  const producer = await daemon.producer();
  for (const line of lines) producer.send(`${line}\n`);
  await producer.takeJson(lines.length);
  producer.destroy();
}

describe('metrics', () => {
  it('counts known traffic exactly: by type, pool, reject reason, subscriber and replay', async () => {
    const { daemon, url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const state = (pool: string, id: string) => JSON.stringify({ type: 'state', opts: { pool, id, state: 'running' }, ack: 1 });
    await produce(daemon, [
      state('tank', '101'),
      state('tank', '102'),
      state('ssd', '201'),
      JSON.stringify({ ...sampleReports.db, ack: 1 }),
      JSON.stringify({ ...sampleReports.management, ack: 1 }),
      'nonsense',
      '{"type":"stat","opts":{}}',
      '{"type":"state","opts":{"pool":"tank"}}',
      '{"type":"state","opts":{"pool":"tank","id":"1","state":"runing"}}',
      `{"type":"state","opts":{"pool":"${'x'.repeat(2000)}"}}`,
    ]);
    // A replaying subscriber that takes everything, then leaves.
    const replaying = await daemon.subscriber({ since: 0 });
    await replaying.takeJson(5);
    replaying.destroy();
    await expect.poll(async () => (await scrape(url)).get('eventd_subscriber_disconnects_total{reason="eof"}')).toBe(1);

    const m = await scrape(url);
    expect(m.get('eventd_events_published_total{type="state"}')).toBe(3);
    expect(m.get('eventd_events_published_total{type="db"}')).toBe(1);
    expect(m.get('eventd_events_published_total{type="management"}')).toBe(1);
    expect(m.get('eventd_events_published_total{type="ct_exit"}')).toBe(0);
    expect(m.get('eventd_events_published_by_pool_total{pool="tank"}')).toBe(3);
    expect(m.get('eventd_events_published_by_pool_total{pool="ssd"}')).toBe(1);
    expect(m.get('eventd_last_seq')).toBe(5);
    expect(m.get('eventd_reports_rejected_total{reason="json"}')).toBe(1);
    expect(m.get('eventd_reports_rejected_total{reason="type"}')).toBe(1);
    expect(m.get('eventd_reports_rejected_total{reason="schema"}')).toBe(2);
    expect(m.get('eventd_reports_rejected_total{reason="framing"}')).toBe(1);
    expect(m.get('eventd_producer_connects_total')).toBe(1);
    expect(m.get('eventd_producers')).toBe(0);
    expect(m.get('eventd_subscriber_connects_total')).toBe(1);
    expect(m.get('eventd_subscribers{worker="0"}')! + m.get('eventd_subscribers{worker="1"}')!).toBe(0);
    expect(m.get('eventd_replays_total')).toBe(1);
    expect(m.get('eventd_subscribers_dropped_slow_total')).toBe(0);
    expect(m.get('eventd_history_events')).toBe(5);
    expect(m.get('eventd_history_oldest_seq')).toBe(1);
    expect(m.get('eventd_worker_restarts_total{worker="0"}')).toBe(0);
    expect(m.get('eventd_worker_pending_bytes{worker="1"}')).toBe(0);
    // prom-client's process metrics, of the daemon's process.
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    // Only /metrics is served.
    expect((await fetch(url.replace(/metrics$/, 'other'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('stats --prometheus prints the same figures, which promtool parses', async () => {
    const { daemon, url } = await start();
    await daemon.report(sampleReports.state, sampleReports.ct_exit);
    const result = await runCli(['stats', '--prometheus', '--events-socket', daemon.eventsSocket]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const m = samples(result.stdout);
    expect(m.get('eventd_events_published_total{type="state"}')).toBe(1);
    expect(m.get('eventd_events_published_total{type="ct_exit"}')).toBe(1);
    // The stats connection is the one subscriber while it asks.
    expect(m.get('eventd_subscriber_connects_total')).toBe(1);
    expect([...m.keys()].filter((key) => key.startsWith('eventd_')).sort()).toEqual(
      [...(await scrape(url)).keys()].filter((key) => key.startsWith('eventd_')).sort(),
    );
    // Prometheus' own parser and linter find nothing to say, in either (exit 1 is a parse error,
    // 3 a lint problem such as a gauge named _total).
    const served = await (await fetch(url)).text();
    for (const text of [result.stdout, served]) {
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(check.error).toBeUndefined();
      expect({ status: check.status, output: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, output: '' });
    }
  });

  it('a bad --metrics-listen is a usage error, a port in use one line at start', async () => {
    const bad = await runCli(['serve', '--metrics-listen', '9464']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'eventd: --metrics-listen: expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, got "9464" (see `eventd serve --help`)\n',
    );
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const daemon = TestDaemon.spawn({ args: ['--metrics-listen', `127.0.0.1:${port}`] });
      daemons.push(daemon);
      expect((await daemon.exited).code).toBe(1);
      expect(daemon.stderr).toBe(
        `eventd: cannot serve metrics on 127.0.0.1:${port}: the address is in use (another eventd or exporter?) (--metrics-listen)\n`,
      );
    } finally {
      taken.close();
    }
  });

  it('stats counts subscribers by close reason, and says what the table does not count', async () => {
    const { daemon } = await start();
    const sub = await daemon.subscriber();
    const table = await runCli(['stats', '--events-socket', daemon.eventsSocket]);
    expect(table.stdout).toMatch(/^subscribers +1 \(besides this stats connection\)$/m);
    expect(table.stdout).toMatch(/^producers paused +0 times, 0\.0 s in all$/m);
    expect(table.stdout).toMatch(/^worker 0 +1 subscriber, 0 producers, 0 restarts$/m);
    sub.destroy();
    await expect.poll(async () => (await daemon.stats()).subscribers_disconnected.eof).toBe(2);
  });
});
