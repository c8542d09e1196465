// Soak: a steady rate of events to many subscribers for a long time, sampling the daemon's RSS.
// Usage: npm run bench:soak -- [--duration 600] [--rate 2000] [--subscribers 100]
// Exits 1 if any subscriber missed an event or got one out of order.
import { parseArgs } from 'node:util';
import { connect, cpuSeconds, MIX, rssMiB, startDaemon } from './lib.js';
import { LineSplitter } from '../src/client/lines.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    rate: { type: 'string', default: '2000' },
    subscribers: { type: 'string', default: '100' },
  },
});
const DURATION = Number(values.duration);
const RATE = Number(values.rate);
const S = Number(values.subscribers);

const daemon = await startDaemon();
const pid = daemon.proc.pid!;
try {
  // Each subscriber checks that seqs arrive without gap, duplicate or reordering.
  const state = Array.from({ length: S }, () => ({ last: 0, broken: false, lines: new LineSplitter() }));
  const sockets = await Promise.all(
    state.map(async (sub) => {
      const socket = await connect(daemon.eventsSocket);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        for (const line of sub.lines.push(chunk)) {
          const seq = Number(/"seq":(\d+)/.exec(line)?.[1]);
          if (seq !== sub.last + 1) sub.broken = true;
          sub.last = seq;
        }
      });
      return socket;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const producer = await connect(daemon.reportSocket);
  const lines = MIX.map((report) => `${JSON.stringify(report)}\n`);
  const samples: { t: number; rss_mib: number }[] = [];
  const started = Date.now();
  const cpuBefore = cpuSeconds(pid);
  let sent = 0;
  // Send in 10 ms ticks to hold the rate.
  while (Date.now() - started < DURATION * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE);
    let batch = '';
    for (; sent < due; sent++) batch += lines[sent % lines.length];
    if (batch) producer.write(batch);
    const t = Math.floor((Date.now() - started) / 1000);
    if (samples.length === 0 || t - samples[samples.length - 1]!.t >= Math.max(1, Math.floor(DURATION / 60)))
      samples.push({ t, rss_mib: Number(rssMiB(pid).toFixed(1)) });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const deadline = Date.now() + 10_000;
  while (state.some((sub) => sub.last < sent) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const rss = samples.map((sample) => sample.rss_mib);
  const half = Math.floor(rss.length / 2);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const result = {
    duration_s: DURATION,
    rate_per_s: RATE,
    subscribers: S,
    events: sent,
    lost_or_disordered_subscribers: state.filter((sub) => sub.broken || sub.last !== sent).length,
    daemon_cpu_s: Number((cpuSeconds(pid) - cpuBefore).toFixed(2)),
    rss_mib_first: rss[0],
    rss_mib_max: Math.max(...rss),
    rss_mib_last: rss[rss.length - 1],
    // Flat means the second half averages about what the first half did.
    rss_mib_first_half_avg: Number(avg(rss.slice(0, half)).toFixed(1)),
    rss_mib_second_half_avg: Number(avg(rss.slice(half)).toFixed(1)),
    samples,
  };
  console.log(JSON.stringify(result));
  for (const socket of [...sockets, producer]) socket.destroy();
  if (result.lost_or_disordered_subscribers > 0) process.exitCode = 1;
} finally {
  await daemon.stop();
}
