// Fan-out measurement: S subscribers, P producers, W workers, N events of a realistic mix,
// against eventd, the raw ceiling server (bench/raw-server.ts) or Redis pub/sub.
// Usage: npx tsx bench/fanout.ts [--target eventd|raw|redis] [--subscribers 100] [--producers 1]
//        [--workers 2] [--events 200000] [--ack-every 0] [--rate 0]
// --rate R sends at a fixed R events/s and reports latency (sampled on up to 10 subscribers).
// Not a test: it prints one JSON line of figures; `lost` says whether anything went missing.
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, cpuSeconds, MIX, peakRssMiB, startTarget, type Target } from './lib.js';

export interface FanoutParams {
  target: Target;
  subscribers: number;
  producers: number;
  workers: number;
  events: number;
  /** 0: only each producer's last report asks for an ack; k: every k-th does too (eventd only). */
  ackEvery: number;
  /** 0: as fast as possible; otherwise events/s, with latency measured. */
  rate: number;
}

export interface FanoutResult extends FanoutParams {
  ingest_events_per_s: number;
  deliveries_per_s: number;
  end_to_end_events_per_s: number;
  daemon_cpu_s: number;
  daemon_cpu_s_per_million_deliveries: number;
  daemon_peak_rss_mib: number;
  latency_ms?: { p50: number; p99: number; max: number };
  subscribers_per_worker?: number[];
  lost: number;
}

const LATENCY_SAMPLERS = 10;

/** How one server frames reports, subscriptions, deliveries and acks. */
interface Wire {
  /** Sent by a subscriber when it connects. */
  hello: string;
  frame(json: string): string;
  /** Counts occurrences of `token` that end in `chunk` (the tail carries the previous read's end). */
  token: string;
}

const LINES: Wire = { hello: '', frame: (json) => `${json}\n`, token: '\n' };
// RESP: each delivery is a "message" push; each PUBLISH is answered with an integer (":n").
const REDIS: Wire = {
  hello: 'SUBSCRIBE events\r\n',
  frame: (json) => `*3\r\n$7\r\nPUBLISH\r\n$6\r\nevents\r\n$${Buffer.byteLength(json)}\r\n${json}\r\n`,
  token: '$7\r\nmessage\r\n',
};

/** A counter of `token` across reads. */
function tokenCounter(token: string) {
  let tail = '';
  return (chunk: Buffer): number => {
    if (token === '\n') {
      let count = 0;
      let at = -1;
      while ((at = chunk.indexOf(10, at + 1)) !== -1) count++;
      return count;
    }
    const text = tail + chunk.toString('latin1');
    let count = 0;
    for (let at = text.indexOf(token); at !== -1; at = text.indexOf(token, at + 1)) if (at + token.length > tail.length) count++;
    tail = text.slice(-(token.length - 1));
    return count;
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runFanout(params: FanoutParams): Promise<FanoutResult> {
  const { subscribers: S, producers: P, events: N } = params;
  const daemon = await startTarget(params.target, params.workers);
  const wire = params.target === 'redis' ? REDIS : LINES;
  const sockets: net.Socket[] = [];
  try {
    // Subscribers count lines (the load generator must cost little); a few also time them.
    let delivered = 0;
    let done: () => void = () => {};
    let expected = Infinity;
    const latencies: number[] = [];
    const received = new Array<number>(S).fill(0);
    for (let i = 0; i < S; i++) {
      const socket = await connect(daemon.eventsSocket);
      if (wire.hello) socket.write(wire.hello);
      const sampling = params.rate > 0 && i < LATENCY_SAMPLERS;
      const countDeliveries = tokenCounter(wire.token);
      let partial = '';
      socket.on('data', (chunk: Buffer) => {
        const count = countDeliveries(chunk);
        received[i]! += count;
        delivered += count;
        if (sampling) {
          const now = performance.now();
          const text = partial + chunk.toString('latin1');
          partial = text.slice(text.lastIndexOf('\n') + 1);
          for (const match of text.matchAll(/"sent_ms":([\d.]+)/g)) latencies.push(now - Number(match[1]));
        }
        if (delivered >= expected) done();
      });
      socket.on('close', () => {
        if (delivered < expected) {
          console.error(`subscriber ${i} disconnected after ${received[i]} lines`);
          done();
        }
      });
      sockets.push(socket);
    }

    // Live check: probe until every subscriber has had a line (a connection the daemon has not
    // accepted yet misses what is published before), let stragglers land, then start counting.
    const probe = await connect(daemon.reportSocket);
    sockets.push(probe);
    while (received.some((count) => count === 0)) {
      probe.write(wire.frame(JSON.stringify(MIX[0])));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    delivered = 0;
    received.fill(0);
    const distributed = new Promise<void>((resolve) => (done = resolve));
    expected = S * N;

    const lines = MIX.map((report) => wire.frame(JSON.stringify(report)));
    const ackedLines = MIX.map((report) => wire.frame(JSON.stringify({ ...report, ack: 0 })));
    const lastLine = wire.frame(JSON.stringify({ ...MIX[0], ack: 'last' }));
    const producers = await Promise.all(Array.from({ length: P }, () => connect(daemon.reportSocket)));
    sockets.push(...producers);
    const pid = daemon.proc.pid!;
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    const acked = producers.map(
      (producer, p) =>
        new Promise<void>((resolve) => {
          const share = Math.floor(N / P) + (p < N % P ? 1 : 0);
          // Redis answers every PUBLISH: count the answers. The line servers answer the last
          // report ("ack":"last"), which may straddle two reads.
          let tail = '';
          let answers = 0;
          producer.on('data', (chunk: Buffer) => {
            if (params.target === 'redis') {
              for (const byte of chunk) if (byte === 58) answers++; // ':'
              if (answers >= share) resolve();
              return;
            }
            const text = tail + chunk.toString('latin1');
            if (text.includes('"ack":"last"')) resolve();
            tail = text.slice(-16);
          });
          let sent = 0;
          const next = () => (ackWanted(params, sent) ? ackedLines : lines)[sent % lines.length]!;
          if (params.rate > 0) {
            // Fixed rate, in 1 ms ticks; every event carries its send time.
            const perProducer = params.rate / P;
            const tick = () => {
              const due = Math.min(share, Math.floor(((performance.now() - started) / 1000) * perProducer));
              let batch = '';
              for (; sent < due; sent++) {
                const report = { type: 'management', opts: { id: sent, cmd: 'bench', opts: { sent_ms: performance.now() }, state: 'run' } };
                batch += wire.frame(JSON.stringify(sent === share - 1 ? { ...report, ack: 'last' } : report));
              }
              if (batch) producer.write(batch);
              if (sent < share) setTimeout(tick, 1);
            };
            tick();
            return;
          }
          const pump = () => {
            while (sent < share) {
              let batch = '';
              for (let i = 0; i < 256 && sent < share - 1; i++, sent++) batch += next();
              if (sent === share - 1) {
                batch += lastLine;
                sent++;
              }
              if (!producer.write(batch)) return void producer.once('drain', pump);
            }
          };
          pump();
        }),
    );
    await Promise.all(acked);
    const ingestSeconds = (performance.now() - started) / 1000;
    await distributed;
    const totalSeconds = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const sorted = latencies.sort((a, b) => a - b);
    return {
      ...params,
      ingest_events_per_s: Math.round(N / ingestSeconds),
      deliveries_per_s: Math.round(delivered / totalSeconds),
      end_to_end_events_per_s: Math.round(N / totalSeconds),
      daemon_cpu_s: Number(cpu.toFixed(2)),
      daemon_cpu_s_per_million_deliveries: Number(((cpu * 1e6) / Math.max(delivered, 1)).toFixed(3)),
      daemon_peak_rss_mib: peakRssMiB(pid),
      ...(params.rate > 0 ? { latency_ms: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? 0) } } : {}),
      ...(params.target === 'eventd' ? { subscribers_per_worker: await daemon.spread() } : {}),
      lost: S * N - delivered,
    };
  } finally {
    for (const socket of sockets) {
      socket.removeAllListeners('close');
      socket.destroy();
    }
    await daemon.stop();
  }
}

function ackWanted(params: FanoutParams, sent: number): boolean {
  return params.ackEvery > 0 && sent % params.ackEvery === 0;
}

function round(ms: number): number {
  return Number(ms.toFixed(2));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'eventd' },
      subscribers: { type: 'string', default: '100' },
      producers: { type: 'string', default: '1' },
      workers: { type: 'string', default: '2' },
      events: { type: 'string', default: '200000' },
      'ack-every': { type: 'string', default: '0' },
      rate: { type: 'string', default: '0' },
    },
  });
  const result = await runFanout({
    target: values.target as Target,
    subscribers: Number(values.subscribers),
    producers: Number(values.producers),
    workers: Number(values.workers),
    events: Number(values.events),
    ackEvery: Number(values['ack-every']),
    rate: Number(values.rate),
  });
  console.log(JSON.stringify(result));
  if (result.lost !== 0) process.exitCode = 1;
}
