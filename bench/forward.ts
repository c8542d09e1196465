// Forwarding throughput: one host's events through `eventd forward` into a local nats-server
// with JetStream (file storage), measured from the first report to the last event stored.
// Usage: npx tsx bench/forward.ts [--events 100000]   (needs nats-server: apt-get install nats-server)
// Prints one JSON line; `lost`/`duplicated` must be 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect, cpuSeconds, MIX, startDaemon } from './lib.js';

export interface ForwardResult {
  events: number;
  forwarded_events_per_s: number;
  daemon_ingest_events_per_s: number;
  forwarder_cpu_s: number;
  nats_cpu_s: number;
  daemon_cpu_s: number;
  /** Times the forwarder started over (after the daemon dropped it as too slow, say). */
  forwarder_restarts: number;
  lost: number;
  duplicated: number;
}

/** nats-server by name, else where Debian puts it (/usr/sbin, off an unprivileged user's PATH). */
const NATS_SERVER = ['nats-server', '/usr/sbin/nats-server'].find((bin) => spawnSync(bin, ['--version']).status === 0);

export function natsInstalled(): boolean {
  return NATS_SERVER !== undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Everything a process writes on one stream, and a way to wait for some text in it. */
function output(proc: ChildProcess, stream: 'stdout' | 'stderr') {
  let seen = '';
  proc[stream]!.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
  return {
    get text() {
      return seen;
    },
    waitFor: (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!seen.includes(text)) return;
          proc[stream]!.off('data', check);
          resolve();
        };
        proc[stream]!.on('data', check);
        check();
        proc.once('exit', () => reject(new Error(`exited before "${text}": ${seen.slice(-500)}`)));
      }),
  };
}

export async function runForward(events: number): Promise<ForwardResult> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const nats = spawn(NATS_SERVER ?? 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'js')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // The whole run stays in the history, so a forwarder dropped as too slow resumes without loss.
  const daemon = await startDaemon(['--history', String(events + 10)]);
  let forwarder: ChildProcess | undefined;
  try {
    await output(nats, 'stderr').waitFor('Server is ready');
    const bin = fileURLToPath(new URL('../bin/eventd.js', import.meta.url));
    forwarder = spawn(
      process.execPath,
      [
        ...(process.env.EVENTD_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        bin,
        'forward',
        '--nats',
        url,
        '--host',
        'bench',
        '--events-socket',
        daemon.eventsSocket,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const forwarderLog = output(forwarder, 'stdout');
    await forwarderLog.waitFor('forwarding from the start');
    const nc = await natsConnect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const stored = async () => (await jsm.streams.info('EVENTD')).state.messages;
    const cpu = () => ({ forwarder: cpuSeconds(forwarder!.pid!), nats: cpuSeconds(nats.pid!), daemon: cpuSeconds(daemon.proc.pid!) });
    const before = cpu();

    const producer = await connect(daemon.reportSocket);
    const lines = MIX.map((report) => `${JSON.stringify(report)}\n`);
    const started = performance.now();
    const acked = new Promise<void>((resolve) => producer.on('data', (chunk: Buffer) => chunk.includes('"ack":"last"') && resolve()));
    for (let sent = 0; sent < events;) {
      let batch = '';
      for (let i = 0; i < 256 && sent < events - 1; i++, sent++) batch += lines[sent % lines.length];
      if (sent === events - 1) {
        batch += `${JSON.stringify({ ...MIX[0], ack: 'last' })}\n`;
        sent++;
      }
      if (!producer.write(batch)) await new Promise((resolve) => producer.once('drain', resolve));
    }
    await acked;
    const ingestSeconds = (performance.now() - started) / 1000;
    let count = 0;
    for (let idle = 0; count < events && idle < 100;) {
      const now = await stored();
      idle = now === count ? idle + 1 : 0;
      count = now;
      if (count < events) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const after = cpu();
    producer.destroy();
    await nc.close();
    return {
      events,
      forwarded_events_per_s: Math.round(count / seconds),
      daemon_ingest_events_per_s: Math.round(events / ingestSeconds),
      forwarder_cpu_s: Number((after.forwarder - before.forwarder).toFixed(2)),
      nats_cpu_s: Number((after.nats - before.nats).toFixed(2)),
      daemon_cpu_s: Number((after.daemon - before.daemon).toFixed(2)),
      forwarder_restarts: forwarderLog.text.split('"msg":"resuming"').length - 1,
      lost: Math.max(0, events - count),
      duplicated: Math.max(0, count - events),
    };
  } finally {
    forwarder?.kill('SIGTERM');
    nats.kill('SIGTERM');
    await daemon.stop();
    await new Promise((resolve) => (nats.exitCode === null ? nats.once('exit', resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' } } });
  if (!natsInstalled()) {
    console.error('nats-server is not installed (apt-get install nats-server)');
    process.exit(2);
  }
  const result = await runForward(Number(values.events));
  console.log(JSON.stringify(result));
  if (result.lost !== 0 || result.duplicated !== 0) process.exitCode = 1;
}
