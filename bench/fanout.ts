// Fan-out measurement: S subscribers, P producers, W workers, N events of a realistic mix.
// Usage: npm run bench:fanout -- [--subscribers 100] [--producers 1] [--workers 2] [--events 200000]
// Not a test: it prints figures, it asserts only that nothing was lost.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    producers: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    events: { type: 'string', default: '200000' },
  },
});
const S = Number(values.subscribers);
const P = Number(values.producers);
const W = Number(values.workers);
const N = Number(values.events);

const MIX = [
  { type: 'state', opts: { pool: 'tank', id: '101', state: 'running' } },
  { type: 'db', opts: { object: 'container', pool: 'tank', id: '102', action: 'add' } },
  { type: 'ct_netif', opts: { pool: 'tank', id: '103', action: 'up', name: 'eth0', veth: 'veth103i0' } },
  { type: 'ct_init_pid', opts: { pool: 'tank', id: '104', init_pid: 31337 } },
  { type: 'management', opts: { id: 7, cmd: 'ct_start', opts: { id: '105', wait: true }, state: 'done' } },
  { type: 'ct_exit', opts: { pool: 'tank', id: '106', exit_type: 'reboot' } },
];

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
}

function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-'));
  const bin = new URL('../bin/eventd.js', import.meta.url).pathname;
  const daemon = spawn(
    process.execPath,
    [bin, 'serve', '--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock'), '--workers', String(W), '--log-level', 'warn'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  try {
    for (let i = 0; i < 100; i++) {
      try {
        (await connect(join(dir, 'r.sock'))).destroy();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    // Subscribers count lines only: the load generator must cost as little as possible.
    let delivered = 0;
    let allDelivered: () => void;
    const deliveredAll = new Promise<void>((resolve) => (allDelivered = resolve));
    const subscribers: net.Socket[] = [];
    for (let i = 0; i < S; i++) {
      const socket = await connect(join(dir, 'e.sock'));
      socket.on('data', (chunk: Buffer) => {
        let at = -1;
        while ((at = chunk.indexOf(10, at + 1)) !== -1) delivered++;
        if (delivered === S * N) allDelivered();
      });
      // A subscriber dropped as too slow would make the run wait forever: say so and stop.
      socket.on('close', () => {
        if (delivered < S * N) {
          console.error(`subscriber ${i} was disconnected after ${delivered} of ${S * N} deliveries (too slow?)`);
          process.exitCode = 1;
          allDelivered();
        }
      });
      subscribers.push(socket);
    }
    // Wait until every subscriber is on a worker.
    const control = await connect(join(dir, 'e.sock'));
    control.write('{"cmd":"event_subscribe","opts":{"type":"osctld_shutdown"}}\n');
    const askStats = () =>
      new Promise<Record<string, any>>((resolve) => {
        let buffer = '';
        const onData = (chunk: Buffer) => {
          buffer += chunk;
          for (const line of buffer.split('\n')) {
            if (line.includes('"events_published"')) {
              control.off('data', onData);
              resolve(JSON.parse(line).response);
            }
          }
        };
        control.on('data', onData);
        control.write('{"cmd":"stats"}\n');
      });
    let stats = await askStats();
    while (stats.subscribers < S + 1) stats = await askStats();
    const spread = (stats.workers as { subscribers: number }[]).map((w) => w.subscribers - (w === stats.workers[0] ? 1 : 0));

    const lines = MIX.map((report) => `${JSON.stringify(report)}\n`);
    const producers = await Promise.all(Array.from({ length: P }, () => connect(join(dir, 'r.sock'))));
    const cpuBefore = cpuSeconds(daemon.pid!);
    const started = process.hrtime.bigint();
    const acked = producers.map(
      (producer, p) =>
        new Promise<void>((resolve) => {
          const share = Math.floor(N / P) + (p < N % P ? 1 : 0);
          producer.on('data', (chunk: Buffer) => chunk.includes('"ack":"last"') && resolve());
          let sent = 0;
          const pump = () => {
            while (sent < share) {
              const batch: string[] = [];
              for (let i = 0; i < 256 && sent < share - 1; i++, sent++) batch.push(lines[sent % lines.length]!);
              if (sent === share - 1) {
                batch.push(`${JSON.stringify({ ...MIX[0], ack: 'last' })}\n`);
                sent++;
              }
              if (!producer.write(batch.join(''))) return void producer.once('drain', pump);
            }
          };
          pump();
        }),
    );
    await Promise.all(acked);
    const ingestSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    await deliveredAll;
    const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = cpuSeconds(daemon.pid!) - cpuBefore;

    const result = {
      subscribers: S,
      producers: P,
      workers: W,
      events: N,
      ingest_events_per_s: Math.round(N / ingestSeconds),
      deliveries_per_s: Math.round((S * N) / totalSeconds),
      end_to_end_events_per_s: Math.round(N / totalSeconds),
      daemon_cpu_s: Number(cpu.toFixed(2)),
      daemon_cpu_s_per_million_deliveries: Number(((cpu * 1e6) / (S * N)).toFixed(3)),
      subscribers_per_worker: spread,
      lost: S * N - delivered,
    };
    console.log(JSON.stringify(result));
    for (const socket of [...subscribers, ...producers, control]) {
      socket.removeAllListeners('close');
      socket.destroy();
    }
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
