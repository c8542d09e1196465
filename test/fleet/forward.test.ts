// Fleet forwarding against a real nats-server with JetStream: two hosts into one stream, NATS
// killed mid-stream, a daemon restarted, and every kind of bad input.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { TestDaemon } from '../helpers/daemon.js';
import { TestNats } from '../helpers/nats.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNats(): Promise<TestNats> {
  const nats = await TestNats.start();
  cleanups.push(() => nats.cleanup());
  return nats;
}

async function startDaemon(args: string[] = []): Promise<TestDaemon> {
  const daemon = await TestDaemon.start({ args });
  cleanups.push(() => daemon.cleanup());
  return daemon;
}

type Cli = ReturnType<typeof startCli>;

/** `eventd forward` as a process, once it has started forwarding. */
async function startForwarder(nats: TestNats, daemon: TestDaemon, host: string, args: string[] = []): Promise<Cli> {
  const forwarder = startCli(['forward', '--nats', nats.url, '--host', host, '--events-socket', daemon.eventsSocket, ...args]);
  cleanups.push(() => void forwarder.child.kill('SIGKILL'));
  await expect
    .poll(() => forwarder.stdout, { timeout: 15_000 })
    .toMatch(/"msg":"(forwarding from the start of the daemon history|resuming)"/);
  return forwarder;
}

async function stopForwarder(forwarder: Cli): Promise<void> {
  forwarder.child.kill('SIGTERM');
  expect(await forwarder.exited).toBe(0);
}

function logs(cli: Cli): { msg: string; [key: string]: unknown }[] {
  return cli.lines().map((line) => JSON.parse(line));
}

interface Stored {
  subject: string;
  id: string;
  host: string;
  run: string;
  event: { seq: number; type: string; opts: Record<string, unknown> };
}

/** Everything the stream holds, read with the NATS client directly (not eventd's own code). */
async function readStream(url: string): Promise<Stored[]> {
  const nc = await connect({ servers: url });
  try {
    const count = (await (await jetstreamManager(nc)).streams.info('EVENTD')).state.messages;
    const stored: Stored[] = [];
    if (count === 0) return stored;
    const messages = await (await jetstream(nc).consumers.get('EVENTD')).consume();
    for await (const message of messages) {
      stored.push({
        subject: message.subject,
        id: message.headers!.get('Nats-Msg-Id'),
        host: message.headers!.get('Eventd-Host'),
        run: message.headers!.get('Eventd-Run'),
        event: message.json(),
      });
      if (stored.length === count) break;
    }
    return stored;
  } finally {
    await nc.close();
  }
}

/** The stream's messages and consumers now (-1 each while NATS or the stream is not there). */
async function streamState(url: string): Promise<{ messages: number; consumers: number }> {
  const nc = await connect({ servers: url });
  try {
    const { state } = await (await jetstreamManager(nc)).streams.info('EVENTD');
    return { messages: state.messages, consumers: state.consumer_count };
  } catch {
    return { messages: -1, consumers: -1 };
  } finally {
    await nc.close();
  }
}

const storedCount = async (url: string) => (await streamState(url)).messages;
const consumerCount = async (url: string) => (await streamState(url)).consumers;

/** Waits until the stream holds exactly `count` messages. */
async function expectStored(nats: TestNats, count: number, timeout = 15_000): Promise<void> {
  await expect.poll(() => storedCount(nats.url), { timeout, interval: 200 }).toBe(count);
}

function initPid(pid: number): string {
  return JSON.stringify({ type: 'ct_init_pid', opts: { pool: 'tank', id: '101', init_pid: pid } });
}

/** Reports pids first..last (inclusive) in one write and waits for the last ack. */
async function report(daemon: TestDaemon, first: number, last: number): Promise<void> {
  const producer = await daemon.producer();
  const lines = [];
  for (let pid = first; pid < last; pid++) lines.push(initPid(pid));
  lines.push(JSON.stringify({ type: 'ct_init_pid', opts: { pool: 'tank', id: '101', init_pid: last }, ack: 'last' }));
  producer.send(`${lines.join('\n')}\n`);
  expect(await producer.nextJson()).toMatchObject({ status: true, ack: 'last' });
  producer.destroy();
}

describe('eventd forward', () => {
  it('forwards two hosts into one stream; the fleet monitor shows both, with host names, in per-host order', async () => {
    const nats = await startNats();
    const alpha = await startDaemon();
    const beta = await startDaemon();
    await startForwarder(nats, alpha, 'alpha');
    await startForwarder(nats, beta, 'beta.example.com');
    for (let i = 0; i < 4; i++) {
      await report(alpha, i * 50 + 1, i * 50 + 50);
      await report(beta, i * 50 + 1, i * 50 + 50);
    }
    await expectStored(nats, 400, 20_000);

    const monitor = startCli(['monitor', '--nats', nats.url, '--since', '0', '--json']);
    cleanups.push(() => void monitor.child.kill());
    await expect.poll(() => monitor.lines().length, { timeout: 15_000 }).toBe(400);
    const events = monitor
      .lines()
      .map((line) => JSON.parse(line) as { host: string; run: string; seq: number; opts: { init_pid: number } });
    const runs = { alpha: (await alpha.stats()).run, 'beta.example.com': (await beta.stats()).run };
    for (const host of ['alpha', 'beta.example.com'] as const) {
      const own = events.filter((event) => event.host === host);
      expect(own.map((event) => [event.seq, event.opts.init_pid])).toEqual(Array.from({ length: 200 }, (_, i) => [i + 1, i + 1]));
      expect(new Set(own.map((event) => event.run))).toEqual(new Set([runs[host]]));
    }

    // Human lines, one host, one type; the subject of the dotted host is one escaped token.
    const human = startCli(['monitor', '--nats', nats.url, '--since', '0', '--host', 'beta.example.com', '--type', 'ct_init_pid']);
    cleanups.push(() => void human.child.kill());
    await expect.poll(() => human.lines().length, { timeout: 15_000 }).toBe(200);
    expect(human.lines()[0]).toMatch(/^beta\.example\.com \d\d:\d\d:\d\d\.\d{3} \d+ ct_init_pid tank:101 init_pid=1$/);
    expect((await readStream(nats.url)).filter((stored) => stored.host === 'beta.example.com')[0]!.subject).toBe(
      'eventd.beta%2Eexample%2Ecom.ct_init_pid',
    );

    // Without --since, only what happens from now on.
    const consumers = await consumerCount(nats.url);
    const live = startCli(['monitor', '--nats', nats.url, '--host', 'alpha']);
    cleanups.push(() => void live.child.kill());
    await expect.poll(() => consumerCount(nats.url), { timeout: 15_000 }).toBe(consumers + 1);
    await report(alpha, 201, 202);
    await report(beta, 201, 202);
    await expect.poll(() => live.lines().length, { timeout: 15_000 }).toBe(2);
    expect(live.lines().map((line) => line.replace(/\d\d:\d\d:\d\d\.\d{3}/, 'T'))).toEqual([
      'alpha T 201 ct_init_pid tank:101 init_pid=201',
      'alpha T 202 ct_init_pid tank:101 init_pid=202',
    ]);
  });

  it('stores every event exactly once when NATS is killed mid-stream and comes back; a fleet monitor rides it out', async () => {
    const nats = await startNats();
    const daemon = await startDaemon();
    const forwarder = await startForwarder(nats, daemon, 'node1', ['--metrics-listen', '127.0.0.1:0']);
    await report(daemon, 1, 100);
    await expectStored(nats, 100);
    const metricsUrl = logs(forwarder).find((record) => record.msg === 'forwarding')!.metrics as string;
    const monitor = startCli(['monitor', '--nats', nats.url, '--since', '0', '--json']);
    cleanups.push(() => void monitor.child.kill());
    await expect.poll(() => monitor.lines().length, { timeout: 15_000 }).toBe(100);

    // Events keep coming, 50 every 20 ms, while NATS is killed and, a second later, restarted.
    const reporting = (async () => {
      for (let first = 101; first <= 3000; first += 50) {
        await report(daemon, first, first + 49);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await expect.poll(() => storedCount(nats.url), { timeout: 15_000, interval: 50 }).toBeGreaterThan(500);
    await nats.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await nats.run();
    await reporting;

    await expectStored(nats, 3000, 30_000);
    const stored = await readStream(nats.url);
    expect(stored.map((message) => message.event.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(stored.map((message) => message.event.opts.init_pid)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(new Set(stored.map((message) => message.id)).size).toBe(3000);
    expect(logs(forwarder).some((record) => record.msg === 'NATS connection lost; reconnecting')).toBe(true);
    // The fleet monitor reconnected and carried on where it was: every event once, in order.
    await expect.poll(() => monitor.lines().length, { timeout: 20_000 }).toBe(3000);
    expect(monitor.lines().map((line) => JSON.parse(line).seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(monitor.stderr).toContain('eventd: connection to NATS lost; reconnecting\n');
    expect(monitor.stderr).toContain('eventd: reading the stream again where it left off\n');
    // Its metrics, scraped over HTTP: the lost connection and its return, no gap. Events counts
    // the acks it got: a publish stored as NATS died, whose ack never came, is in the stream (it
    // resumes after it) but not counted, so up to one window (256) of them may be missing here.
    const metrics = await (await fetch(metricsUrl)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('eventd_forward_events_total')).toBeLessThanOrEqual(3000);
    expect(value('eventd_forward_events_total') + value('eventd_forward_duplicates_total')).toBeGreaterThanOrEqual(3000 - 256);
    expect(value('eventd_forward_nats_disconnects_total')).toBeGreaterThanOrEqual(1);
    expect(value('eventd_forward_nats_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(value('eventd_forward_gaps_total')).toBe(0);
    expect(value('eventd_forward_missed_total')).toBe(0);
    expect(value('eventd_forward_last_seq')).toBe(3000);
    expect(metrics).toContain('eventd_forward_info{host="node1",stream="EVENTD"} 1');
    // Every log line names the stream once (the logger's own binding), never twice.
    for (const line of forwarder.lines()) expect(line.match(/"stream":/g)).toHaveLength(1);
  });

  it('resumes from the history after its own restart and never collides across daemon restarts', async () => {
    const nats = await startNats();
    const first = await startDaemon();
    let forwarder = await startForwarder(nats, first, 'node2');
    await report(first, 1, 100);
    await expectStored(nats, 100);

    // Down while 50 more are reported: they are still in the daemon's history.
    await stopForwarder(forwarder);
    await report(first, 101, 150);
    forwarder = await startForwarder(nats, first, 'node2');
    expect(logs(forwarder).find((record) => record.msg === 'resuming')).toMatchObject({ since: 100 });
    await expectStored(nats, 150);

    // The daemon restarts (announcing osctld_shutdown as seq 151); its new run starts at seq 1.
    const runBefore = (await first.stats()).run;
    await first.stop();
    const second = await TestDaemon.start({ dir: first.dir });
    cleanups.push(() => second.cleanup());
    await report(second, 1, 20);
    await expectStored(nats, 171, 20_000);

    const stored = await readStream(nats.url);
    const runAfter = (await second.stats()).run;
    expect(stored.slice(0, 151).map((message) => message.id)).toEqual(Array.from({ length: 151 }, (_, i) => `node2:${runBefore}:${i + 1}`));
    expect(stored[150]!.event.type).toBe('osctld_shutdown');
    expect(stored.slice(151).map((message) => message.id)).toEqual(Array.from({ length: 20 }, (_, i) => `node2:${runAfter}:${i + 1}`));
    expect(stored.slice(151).map((message) => message.event.opts.init_pid)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // The old run ended with its shutdown announcement, forwarded: nothing is reported lost.
    expect(logs(forwarder).some((record) => record.msg === 'the daemon restarted after a clean shutdown; nothing was missed')).toBe(true);
    expect(logs(forwarder).some((record) => String(record.msg).includes('lost'))).toBe(false);
  });

  it("counts a gap when the daemon died without its shutdown announcement reaching the stream (a producer's osctld_shutdown is not it)", async () => {
    const nats = await startNats();
    const first = await startDaemon();
    const forwarder = await startForwarder(nats, first, 'node5');
    await report(first, 1, 10);
    // A producer's osctld_shutdown (osctld stopping) is the last event stored: it is not the
    // daemon's own announcement, so it does not make the daemon's death look clean.
    await first.report({ type: 'osctld_shutdown', opts: {} });
    await expectStored(nats, 11);
    const runBefore = (await first.stats()).run;
    await first.stop('SIGKILL');
    const second = await TestDaemon.start({ dir: first.dir });
    cleanups.push(() => second.cleanup());
    await report(second, 1, 3);
    await expectStored(nats, 14, 20_000);
    expect(
      logs(forwarder).find(
        (record) => record.msg === 'the daemon restarted since the last forwarded event; events it published after that, if any, are lost',
      ),
    ).toMatchObject({
      stored_run: runBefore,
      stored_seq: 11,
      gaps: 1,
    });
    expect(logs(forwarder).some((record) => record.msg === 'the daemon restarted after a clean shutdown; nothing was missed')).toBe(false);
  });

  it('with a journal, loses nothing when the daemon is SIGKILLed while the forwarder is behind: same run, seq goes on', async () => {
    const nats = await startNats();
    const first = await TestDaemon.start({ journal: true });
    cleanups.push(() => first.cleanup());
    let forwarder = await startForwarder(nats, first, 'node6');
    await report(first, 1, 50);
    await expectStored(nats, 50);
    // Not forwarded when the daemon dies: they are in its journal.
    await stopForwarder(forwarder);
    await report(first, 51, 80);
    const run = (await first.stats()).run;
    await first.stop('SIGKILL');
    const second = await TestDaemon.start({ dir: first.dir, journal: true });
    cleanups.push(() => second.cleanup());
    await report(second, 81, 100);
    forwarder = await startForwarder(nats, second, 'node6');
    await expectStored(nats, 100, 20_000);
    const stored = await readStream(nats.url);
    expect(stored.map((message) => message.id)).toEqual(Array.from({ length: 100 }, (_, i) => `node6:${run}:${i + 1}`));
    expect(stored.map((message) => message.event.opts.init_pid)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(logs(forwarder).find((record) => record.msg === 'resuming')).toMatchObject({ since: 50 });
    expect(logs(forwarder).some((record) => /lost|evicted|restarted/.test(String(record.msg)))).toBe(false);
  });

  it('says when the daemon history no longer covers what was not forwarded, and counts it', async () => {
    const nats = await startNats();
    const daemon = await startDaemon(['--history', '10']);
    let forwarder = await startForwarder(nats, daemon, 'node3');
    await report(daemon, 1, 5);
    await expectStored(nats, 5);
    await stopForwarder(forwarder);
    await report(daemon, 6, 40); // 35 events, of which the history keeps the last 10
    forwarder = await startForwarder(nats, daemon, 'node3');
    await expectStored(nats, 15);
    await expect
      .poll(() =>
        logs(forwarder).find((record) => record.msg === "events were evicted from the daemon's history before they could be forwarded"),
      )
      .toMatchObject({ missed: 25, gaps: 1, missed_total: 25 });
    const seqs = (await readStream(nats.url)).map((message) => message.event.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, ...Array.from({ length: 10 }, (_, i) => 31 + i)]);
  });

  describe('bad input: a clear error and a non-zero exit, never a hang', () => {
    it('an unreachable NATS', async () => {
      const daemon = await startDaemon();
      const started = Date.now();
      const result = await runCli(['forward', '--nats', 'nats://127.0.0.1:1', '--events-socket', daemon.eventsSocket]);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/^eventd: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /);
      const monitor = await runCli(['monitor', '--nats', 'nats://127.0.0.1:1']);
      expect(monitor.code).toBe(3);
      expect(monitor.stderr).toMatch(/^eventd: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /);
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('a daemon that is not running', async () => {
      const nats = await startNats();
      const result = await runCli(['forward', '--nats', nats.url, '--events-socket', '/nonexistent/events.sock']);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('eventd: the daemon is not running: there is no socket at /nonexistent/events.sock');
    });

    it('host names that cannot be a subject token', async () => {
      for (const host of ['', 'my host', 'tab\there']) {
        const result = await runCli(['forward', '--nats', 'nats://127.0.0.1:1', '--host', host]);
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`host name ${JSON.stringify(host)} cannot be used`);
      }
      const monitor = await runCli(['monitor', '--host', 'node1']);
      expect(monitor.code).toBe(2);
      expect(monitor.stderr).toBe('eventd: --host selects hosts of the fleet: it needs --nats\n');
    });

    it('bad stream settings, caught locally or refused by the server', async () => {
      const nats = await startNats();
      const daemon = await startDaemon();
      const base = ['forward', '--nats', nats.url, '--events-socket', daemon.eventsSocket];
      let result = await runCli([...base, '--stream', 'events.all']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`stream name "events.all" is not valid`);
      result = await runCli([...base, '--max-age', 'forever']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('expected a duration such as 90s, 15m, 12h or 7d, got "forever"');
      result = await runCli([...base, '--max-bytes', '0']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('a stream of 0 bytes cannot hold anything');

      // A single server cannot keep 3 copies: the server's reason, and nothing created.
      result = await runCli([...base, '--replicas', '3']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^eventd: cannot create stream EVENTD: .*replicas/i);

      // One stream takes eventd.>; a second one cannot, and the server says why.
      const forwarder = await startForwarder(nats, daemon, 'node4');
      await stopForwarder(forwarder);
      result = await runCli([...base, '--stream', 'SECOND']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^eventd: cannot create stream SECOND: .*subjects overlap/);

      // An existing stream that does not take eventd.> is not used.
      const nc = await connect({ servers: nats.url });
      await (await jetstreamManager(nc)).streams.add({ name: 'OTHER', subjects: ['other.>'] });
      await nc.close();
      result = await runCli([...base, '--stream', 'OTHER']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'eventd: stream OTHER exists but does not take eventd.> (it takes ["other.>"]); pick another with --stream\n',
      );

      const monitor = await runCli(['monitor', '--nats', nats.url, '--stream', 'MISSING']);
      expect(monitor.code).toBe(1);
      expect(monitor.stderr).toMatch(/^eventd: cannot read stream MISSING at .*no forwarder has created it yet/);
      const since = await runCli(['monitor', '--nats', nats.url, '--since', 'yesterday']);
      expect(since.code).toBe(2);
      expect(since.stderr).toContain('--since takes a stream sequence');
    });
  });
});
