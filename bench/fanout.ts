// Fan-out measurement: S subscribers, P producers, W workers, N events of a realistic mix.
// Usage: npm run bench:fanout -- [--subscribers 100] [--producers 1] [--workers 2] [--events 200000] [--ack-every 0]
// Not a test: it prints figures, it asserts only that nothing was lost.
import type net from 'node:net';
import { parseArgs } from 'node:util';
import { connect, cpuSeconds, MIX, startDaemon } from './lib.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    producers: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    events: { type: 'string', default: '200000' },
    'ack-every': { type: 'string', default: '0' },
  },
});
const S = Number(values.subscribers);
const P = Number(values.producers);
const W = Number(values.workers);
const N = Number(values.events);
/** 0: only the last report of each producer asks for an ack; k: every k-th does too. */
const ACK_EVERY = Number(values['ack-every']);

async function main(): Promise<void> {
  const daemon = await startDaemon(['--workers', String(W)]);
  const { reportSocket, eventsSocket } = daemon;
  try {
    // Subscribers count lines only: the load generator must cost as little as possible.
    let delivered = 0;
    let allDelivered: () => void;
    const deliveredAll = new Promise<void>((resolve) => (allDelivered = resolve));
    const subscribers: net.Socket[] = [];
    for (let i = 0; i < S; i++) {
      const socket = await connect(eventsSocket);
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
    const control = await connect(eventsSocket);
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
    const ackedLines = MIX.map((report) => `${JSON.stringify({ ...report, ack: 0 })}\n`);
    const producers = await Promise.all(Array.from({ length: P }, () => connect(reportSocket)));
    const cpuBefore = cpuSeconds(daemon.proc.pid!);
    const started = process.hrtime.bigint();
    const acked = producers.map(
      (producer, p) =>
        new Promise<void>((resolve) => {
          const share = Math.floor(N / P) + (p < N % P ? 1 : 0);
          // The last ack may straddle two reads: look at the end of the previous one too.
          let tail = '';
          producer.on('data', (chunk: Buffer) => {
            const text = tail + chunk.toString('latin1');
            if (text.includes('"ack":"last"')) resolve();
            tail = text.slice(-16);
          });
          let sent = 0;
          const pump = () => {
            while (sent < share) {
              const batch: string[] = [];
              for (let i = 0; i < 256 && sent < share - 1; i++, sent++) batch.push((ACK_EVERY > 0 && sent % ACK_EVERY === 0 ? ackedLines : lines)[sent % lines.length]!);
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
    const cpu = cpuSeconds(daemon.proc.pid!) - cpuBefore;

    const result = {
      subscribers: S,
      producers: P,
      ack_every: ACK_EVERY,
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
    await daemon.stop();
  }
}

await main();
