// Hardening, round 3 (issue 27): what an unprivileged local user, or a producer choosing hostile
// values, could do to the metrics endpoint, the daemon's replies and other subscribers. Each test
// asserts the bound, and that a bystander producer and subscriber are served meanwhile: nothing
// lost, p99 within 3× a quiet run's (or 5 ms: on 2 shared cores a quiet p99 is a millisecond or two).
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { Bystander, type BystanderFigures } from '../helpers/bystander.js';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';
import { canRunAsNobody, runAsNobody, type NobodyProcess } from '../helpers/nobody.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function daemon(args: string[] = [], options: { osctld?: boolean } = {}): Promise<{ daemon: TestDaemon; url: string }> {
  const started = await TestDaemon.start({ args: ['--metrics-listen', '127.0.0.1:0', ...args], ...options });
  cleanups.push(() => started.cleanup());
  const ready = started.logs.find((record) => record.msg === 'eventd ready')!;
  return { daemon: started, url: ready.metrics as string };
}

async function bystander(d: TestDaemon): Promise<Bystander> {
  const b = await Bystander.start(d);
  cleanups.push(() => b.close());
  return b;
}

function nobody(source: string, args: string[]): NobodyProcess {
  const proc = runAsNobody(source, args);
  cleanups.push(() => proc.stop());
  return proc;
}

/** Nothing the bystander sent was lost, and its p99 stayed within 3× quiet (5 ms at least). */
function expectServed(quiet: BystanderFigures, attacked: BystanderFigures): void {
  // The figures docs/security.md quotes.
  console.log(
    `${expect.getState().currentTestName}: bystander p50/p99 quiet ${quiet.p50.toFixed(2)}/${quiet.p99.toFixed(2)} ms, ` +
      `under attack ${attacked.p50.toFixed(2)}/${attacked.p99.toFixed(2)} ms, ${attacked.received}/${attacked.sent} received`,
  );
  expect(attacked.acked, 'bystander acks').toBe(attacked.sent);
  expect(attacked.received, 'bystander events').toBe(attacked.sent);
  expect(attacked.p99, `p99 under attack ${attacked.p99.toFixed(1)} ms vs quiet ${quiet.p99.toFixed(1)} ms`).toBeLessThanOrEqual(
    Math.max(3 * quiet.p99, 5),
  );
}

/** CPU seconds the daemon used while `during` ran (the bystander's own traffic included: compare with a quiet run). */
async function cpuDuring<T>(d: TestDaemon, during: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = d.cpuSeconds();
  const started = performance.now();
  const result = await during();
  const cpu = d.cpuSeconds() - before;
  console.log(`${expect.getState().currentTestName}: daemon CPU ${((cpu * 100000) / (performance.now() - started)).toFixed(0)} %`);
  return { result, cpu };
}

/**
 * Cores the daemon spends beyond its quiet rate (`quietCpu` over `ms`) while an attack goes on,
 * given the first window's CPU: if that is not below `limit`, the least of up to two more windows.
 * A one-off in one window (V8 compiling the path the attack takes, a stall of this shared machine:
 * once 0.117 where 0.04–0.06 is usual) is not the attack's cost; a real one is in every window (the
 * holes these tests guard took a core or more).
 */
async function extraCores(d: TestDaemon, b: Bystander, quietCpu: number, firstCpu: number, ms: number, limit: number): Promise<number> {
  let extra = (firstCpu - quietCpu) / (ms / 1000);
  for (let window = 2; window <= 3 && extra >= limit; window++) {
    const { cpu } = await cpuDuring(d, () => b.measure(ms));
    extra = Math.min(extra, (cpu - quietCpu) / (ms / 1000));
  }
  return extra;
}

const asNobody = canRunAsNobody('hardening › the metrics endpoint against an unprivileged local user') ? describe : describe.skip;

asNobody('the metrics endpoint against an unprivileged local user', () => {
  it('holds a few connections at most: 300 idle ones from nobody take no descriptors producers need', async () => {
    const { daemon: d, url } = await daemon();
    const b = await bystander(d);
    const quiet = await b.measure(1500);
    const fdsBefore = d.fdCount();
    const { port } = new URL(url);
    const attacker = nobody(
      `import net from 'node:net';
       const sockets = [];
       let open = 0, closed = 0;
       for (let i = 0; i < 300; i++) {
         const s = net.connect(${port}, '127.0.0.1', () => { open++; if (open + closed === 300) console.log('opened', open); });
         s.on('error', () => {}); s.on('close', () => { closed++; });
         sockets.push(s);
       }
       setInterval(() => console.log('closed', closed), 200);`,
      [],
    );
    await attacker.waitFor(/closed [1-9]\d*/);
    const attacked = await b.measure(1500);
    // The daemon holds at most its cap of them (16), plus the ones being turned away.
    expect(d.fdCount()).toBeLessThanOrEqual(fdsBefore + 20);
    // A producer and a stats connection from root are served all along.
    expect((await d.report({ type: 'state', opts: { pool: 'tank', id: '1', state: 'running' } })).length).toBe(1);
    const stats = await d.stats();
    expect(stats.metrics_refused.connections).toBeGreaterThan(200);
    expectServed(quiet, attacked);
    // Refusals are logged, not once per connection.
    expect(d.logs.filter((record) => record.msg.startsWith('metrics connection refused or closed')).length).toBe(1);
    await attacker.stop();
    // Once the attacker is gone, a scrape is answered.
    await expect.poll(async () => (await fetch(url)).status, { timeout: 15_000 }).toBe(200);
  });

  it('closes idle connections within seconds', async () => {
    const { url } = await daemon();
    const { port } = new URL(url);
    const started = Date.now();
    const idle = nobody(
      `import net from 'node:net';
       const s = net.connect(${port}, '127.0.0.1', () => console.log('open'));
       s.on('close', () => { console.log('closed by the daemon'); process.exit(0); });`,
      [],
    );
    await idle.waitFor(/closed by the daemon/, 20_000);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('reads at most a few pipelined requests ahead: a client that never reads its answers costs no memory', async () => {
    const { daemon: d, url } = await daemon();
    const b = await bystander(d);
    const { result: quiet, cpu: quietCpu } = await cpuDuring(d, () => b.measure(3000));
    const rssBefore = d.rssBytes();
    const { port } = new URL(url);
    // 3 connections at a time write pipelined GETs as fast as they can and never read.
    const attacker = nobody(
      `import net from 'node:net';
       const request = 'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'.repeat(1000);
       let connections = 0;
       function flood() {
         const s = net.connect(${port}, '127.0.0.1');
         s.on('error', () => {});
         s.on('connect', () => { connections++; const write = () => { while (s.write(request)); }; write(); s.on('drain', write); s.pause(); });
         s.on('close', () => setTimeout(flood, 5));
       }
       for (let i = 0; i < 3; i++) flood();
       setInterval(() => console.log('connections', connections), 200);`,
      [],
    );
    await attacker.waitFor(/connections [1-9]/);
    const { result: attacked, cpu } = await cpuDuring(d, () => b.measure(3000));
    // Each connection is answered once, then not read from while its answer is not taken: it
    // stalls until the idle timeout closes it (before: 704 MiB and a core).
    expect(Number(/connections (\d+)\s*$/.exec(attacker.output)![1])).toBeLessThanOrEqual(3);
    expect(await extraCores(d, b, quietCpu, cpu, 3000, 0.1)).toBeLessThan(0.1);
    expect(d.rssBytes() - rssBefore).toBeLessThan(32 * 1024 * 1024);
    expectServed(quiet, attacked);
  });

  it('builds the text at most about once a second, however fast nobody scrapes', async () => {
    const { daemon: d, url } = await daemon();
    const b = await bystander(d);
    const { result: quiet, cpu: quietCpu } = await cpuDuring(d, () => b.measure(3000));
    const attacker = nobody(
      `import http from 'node:http';
       const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
       let scrapes = 0;
       function scrape() {
         http.get(${JSON.stringify(url)}, { agent }, (res) => { res.resume(); res.on('end', () => { scrapes++; scrape(); }); }).on('error', () => setTimeout(scrape, 10));
       }
       for (let i = 0; i < 4; i++) scrape();
       setInterval(() => console.log('scrapes', scrapes), 200);`,
      [],
    );
    await attacker.waitFor(/scrapes [1-9]/);
    const { result: attacked, cpu } = await cpuDuring(d, () => b.measure(3000));
    const scrapes = Number(/scrapes (\d+)\s*$/.exec(attacker.output)![1]);
    // 20 answers a second after a burst of 20, whoever asks (before: 1,833 a second, 94 % of a core).
    expect(scrapes).toBeLessThanOrEqual(20 + 20 * 5);
    expect(await extraCores(d, b, quietCpu, cpu, 3000, 0.1)).toBeLessThan(0.1);
    expectServed(quiet, attacked);
  });
});

describe("a producer's values cannot grow the daemon's replies", () => {
  it('refuses pool names that are not ZFS pool names, so stats and metrics stay small', async () => {
    const { daemon: d, url } = await daemon(['--max-line-bytes', String(128 * 1024)]);
    const producer = await d.producer();
    cleanups.push(() => producer.destroy());
    for (let i = 0; i < 200; i++) {
      producer.sendJson({ type: 'state', opts: { pool: `p${i}${'x'.repeat(60_000)}`, id: '1', state: 'running' }, ack: i });
    }
    const replies = await producer.takeJson<{ status: boolean; message: string }>(200);
    expect(replies.every((reply) => !reply.status && /opts\.pool must be at most 255 characters long/.test(reply.message))).toBe(true);
    // 256 pools of the longest name are counted at most: the stats reply stays under 100 KB.
    for (let i = 0; i < 300; i++)
      producer.sendJson({ type: 'state', opts: { pool: `p${i}${'x'.repeat(250)}`, id: '1', state: 'running' }, ack: i });
    await producer.takeJson(300);
    const stats = await runCli(['stats', '--json', '--events-socket', d.eventsSocket]);
    expect(stats.code).toBe(0);
    expect(stats.stdout.length).toBeLessThan(100_000);
    expect(Object.keys(JSON.parse(stats.stdout).events_by_pool)).toHaveLength(257);
    expect((await fetch(url)).status).toBe(200);
  });

  it('never drops a connection for the size of its own stats reply', async () => {
    // A queue bound far below the size of a stats reply: the reply is an answer, not an event stream.
    const { daemon: d } = await daemon(['--max-pending-bytes', '1024']);
    for (let i = 0; i < 50; i++) await d.report({ type: 'state', opts: { pool: `pool${i}`, id: '1', state: 'running' } });
    const stats = await runCli(['stats', '--json', '--events-socket', d.eventsSocket]);
    expect(stats.code).toBe(0);
    expect(stats.stdout.length).toBeGreaterThan(1024);
    const metrics = await runCli(['stats', '--prometheus', '--events-socket', d.eventsSocket]);
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toContain('eventd_events_published_by_pool_total{pool="pool49"} 1');
  });
});

describe('well-formed Unicode only', () => {
  it('refuses a lone surrogate, so a Ruby subscriber on the osctld socket reads every event', async () => {
    const { daemon: d } = await daemon([], { osctld: true });
    // osctl's client reads each line with Ruby's JSON.parse; so does this subscriber.
    const ruby = spawn(
      'ruby',
      [
        '-rjson',
        '-rsocket',
        '-e',
        `s = UNIXSocket.new(ARGV[0]); s.gets
         s.write(JSON.generate({cmd: 'event_subscribe', opts: {type: 'state'}}) + "\\n"); s.gets
         puts 'subscribed'; $stdout.flush
         while (line = s.gets)
           puts JSON.parse(line).dig('response', 'opts', 'id'); $stdout.flush
         end`,
        d.osctldSocket,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(() => void ruby.kill());
    let out = '';
    let err = '';
    ruby.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    ruby.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    await expect.poll(() => out, { timeout: 10_000 }).toContain('subscribed');
    const producer = await d.producer();
    cleanups.push(() => producer.destroy());
    producer.send('{"type":"state","opts":{"pool":"tank","id":"before","state":"running"},"ack":1}\n');
    producer.send('{"type":"state","opts":{"pool":"tank","id":"bad\\ud800","state":"running"},"ack":2}\n');
    producer.send('{"type":"state","opts":{"pool":"tank","id":"after","state":"running"},"ack":3}\n');
    const [first, refused, third] = await producer.takeJson<Record<string, unknown>>(3);
    expect(first).toMatchObject({ status: true, ack: 1 });
    expect(refused).toMatchObject({ status: false, ack: 2, issues: [{ path: 'opts.id' }] });
    expect(refused!.message).toMatch(/^Invalid state report: opts\.id must be well-formed Unicode/);
    expect(third).toMatchObject({ status: true, ack: 3 });
    await expect.poll(() => out, { timeout: 10_000 }).toContain('after');
    expect(out.split('\n').filter(Boolean)).toEqual(['subscribed', 'before', 'after']);
    expect(err).toBe('');
  });
});

describe('re-subscribe floods', () => {
  it('paces a valid maximal filter sent in a loop, so it cannot take a core', async () => {
    const { daemon: d } = await daemon([], { osctld: true });
    const b = await bystander(d);
    const { result: quiet, cpu: quietCpu } = await cpuDuring(d, () => b.measure(4000));
    const opts: Record<string, string[]> = {};
    for (let k = 0; k < 32; k++) opts[`k${k}`] = Array.from({ length: 150 }, (_, i) => `v${k}.${i}`);
    const line = `${JSON.stringify({ cmd: 'event_subscribe', opts: { opts } })}\n`;
    expect(line.length).toBeGreaterThan(30_000);
    const clients: LineClient[] = [];
    let answered = 0;
    for (let i = 0; i < 4; i++) {
      const client = await LineClient.connect(d.osctldSocket);
      cleanups.push(() => client.destroy());
      clients.push(client);
      await client.nextJson(); // the greeting
      // Sends the filter again each time it is answered.
      client.socket.on('data', () => {
        while (client.pending > 0) {
          void client.next();
          answered++;
          client.send(line);
        }
      });
      client.send(line);
    }
    const { result: attacked, cpu } = await cpuDuring(d, () => b.measure(4000));
    // Before: ~5,000 subscribes per client in 8 s and 183 % CPU. Each connection gets about 1 % of a thread after its burst.
    expect(answered).toBeLessThan(4 * 400);
    expect(await extraCores(d, b, quietCpu, cpu, 4000, 0.25)).toBeLessThan(0.25);
    expectServed(quiet, attacked);
  });
});
