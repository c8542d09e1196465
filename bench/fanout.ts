// Fan-out measurement: S subscribers, P producers, W workers, N events of a realistic mix,
// against eventd, the raw ceiling server (bench/raw-server.ts) or Redis pub/sub.
// Usage: npx tsx bench/fanout.ts [--target eventd|raw|redis] [--subscribers 100] [--producers 1]
//        [--workers 2] [--events 200000] [--ack-every 0] [--rate 0]
// --rate R sends at a fixed R events/s and reports latency (sampled on up to 10 subscribers).
// Not a test: it prints one JSON line of figures; `lost` says whether anything went missing.
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, cpuSeconds, MIX, nowMs, peakRssMiB, startTarget, type Target } from './lib.js';
import type { FromSubscribers, SubscribersConfig, ToSubscribers } from './subscribers.js';

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
/** Subscribers that also check seq order on every line (counting alone is cheaper for the rest). */
const ORDER_CHECKERS = 10;
/**
 * Closed loop: producers stay at most this many events ahead of the slowest subscriber. On two
 * shared cores the readers cannot take what an open-loop flood sends; eventd then drops them as
 * too slow once 8 MiB is queued for each (as designed), and the raw server buffers without bound
 * (650 MiB at S = 100). With the window, every server is measured at the rate its subscribers
 * actually receive, with a bounded backlog (about 2.7 MB per subscriber).
 */
const WINDOW = 20_000;

/** How one server frames reports. */
const frameLine = (json: string) => `${json}\n`;
// RESP: each PUBLISH is answered with an integer (":n").
const frameRedis = (json: string) => `*3\r\n$7\r\nPUBLISH\r\n$6\r\nevents\r\n$${Buffer.byteLength(json)}\r\n${json}\r\n`;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The subscriber side, in its own process (bench/subscribers.ts). */
class SubscriberProcess {
  private readonly child: ChildProcess;
  private readonly messages: FromSubscribers[] = [];
  /** The fewest events any subscriber has received since the start. */
  progress = 0;
  private waiters: (() => void)[] = [];

  constructor(config: SubscribersConfig) {
    const script = fileURLToPath(new URL('./subscribers.ts', import.meta.url));
    this.child = fork(script, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromSubscribers) => {
      if (message.t === 'progress') this.progress = message.min;
      else this.messages.push(message);
      this.wake();
    });
    this.child.on('exit', () => this.wake());
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves at the next message (progress included). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next message of this kind (a child that exits first is an error). */
  async next<T extends FromSubscribers['t']>(t: T): Promise<Extract<FromSubscribers, { t: T }>> {
    for (;;) {
      const at = this.messages.findIndex((message) => message.t === t);
      if (at !== -1) return this.messages.splice(at, 1)[0] as Extract<FromSubscribers, { t: T }>;
      if (this.child.exitCode !== null) throw new Error(`the subscriber process exited (${this.child.exitCode})`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  send(message: ToSubscribers): void {
    this.child.send(message);
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

export async function runFanout(params: FanoutParams): Promise<FanoutResult> {
  const { subscribers: S, producers: P, events: N } = params;
  const daemon = await startTarget(params.target, params.workers);
  const redis = params.target === 'redis';
  const frame = redis ? frameRedis : frameLine;
  const sockets: net.Socket[] = [];
  const subscribers = new SubscriberProcess({
    socket: daemon.eventsSocket,
    count: S,
    wire: redis ? 'redis' : 'lines',
    samplers: params.rate > 0 ? LATENCY_SAMPLERS : 0,
    orderCheckers: params.target === 'eventd' ? ORDER_CHECKERS : 0,
  });
  try {
    // Live check: probe until every subscriber has had a line (a connection the daemon has not
    // accepted yet misses what is published before), let stragglers land, then start counting.
    const probe = await connect(daemon.reportSocket);
    sockets.push(probe);
    let live = false;
    const allLive = subscribers.next('live').then(() => (live = true));
    while (!live) {
      probe.write(frame(JSON.stringify(MIX[0])));
      await Promise.race([allLive, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscribers.send({ t: 'start', perSocket: N });
    const distributed = subscribers.next('done');

    // eventd gets reports; the others, which only pass bytes on, get lines shaped like what
    // eventd delivers for them, so every server delivers the same bytes per event (see SAME_BYTES).
    const shaped = params.target === 'eventd' ? MIX : MIX.map(asDelivered);
    const lines = shaped.map((report) => frame(JSON.stringify(report)));
    const ackedLines = shaped.map((report) => frame(JSON.stringify({ ...report, ack: 0 })));
    const lastLine = frame(JSON.stringify({ ...shaped[0], ack: 'last' }));
    const producers = await Promise.all(Array.from({ length: P }, () => connect(daemon.reportSocket)));
    sockets.push(...producers);
    const pid = daemon.proc.pid!;
    // Let the subscriber process see its start message before the first event.
    await new Promise((resolve) => setTimeout(resolve, 50));
    let sentTotal = 0;
    const cpuBefore = cpuSeconds(pid);
    const startedAt = nowMs();
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
            if (redis) {
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
                const report = { type: 'management', opts: { id: sent, cmd: 'bench', opts: { sent_ms: nowMs() }, state: 'run' } };
                batch += frame(JSON.stringify(sent === share - 1 ? { ...report, ack: 'last' } : report));
              }
              if (batch) producer.write(batch);
              if (sent < share) setTimeout(tick, 1);
            };
            tick();
            return;
          }
          const pump = () => {
            while (sent < share) {
              if (sentTotal - subscribers.progress >= WINDOW) return void subscribers.changed().then(pump);
              let batch = '';
              const before = sent;
              for (let i = 0; i < 256 && sent < share - 1; i++, sent++) batch += next();
              if (sent === share - 1) {
                batch += lastLine;
                sent++;
              }
              sentTotal += sent - before;
              if (!producer.write(batch)) return void producer.once('drain', pump);
            }
          };
          pump();
        }),
    );
    await Promise.all(acked);
    const ingestSeconds = (performance.now() - started) / 1000;
    const done = await distributed;
    const totalSeconds = Math.max((done.doneAt - startedAt) / 1000, ingestSeconds);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const sorted = done.latencies.sort((a, b) => a - b);
    const { delivered } = done;
    if (done.outOfOrder > 0) console.error(`${done.outOfOrder} events out of order`);
    return {
      ...params,
      ingest_events_per_s: Math.round(N / ingestSeconds),
      deliveries_per_s: Math.round(delivered / totalSeconds),
      end_to_end_events_per_s: Math.round(N / totalSeconds),
      daemon_cpu_s: Number(cpu.toFixed(2)),
      daemon_cpu_s_per_million_deliveries: Number(((cpu * 1e6) / Math.max(delivered, 1)).toFixed(3)),
      daemon_peak_rss_mib: peakRssMiB(pid),
      ...(params.rate > 0
        ? {
            latency_ms: {
              p50: round(percentile(sorted, 50)),
              p99: round(percentile(sorted, 99)),
              max: round(sorted[sorted.length - 1] ?? 0),
            },
          }
        : {}),
      ...(params.target === 'eventd' ? { subscribers_per_worker: await daemon.spread() } : {}),
      // Out-of-order deliveries count as lost: the run fails either way.
      lost: S * N - delivered + done.outOfOrder,
    };
  } finally {
    subscribers.stop();
    for (const socket of sockets) socket.destroy();
    await daemon.stop();
  }
}

/**
 * SAME_BYTES: a report as eventd delivers it (seq and time added: 132 bytes a line on average
 * instead of 84). The readers, on the same two cores, are bound by bytes as much as by lines: fed
 * the bare reports, the raw server delivered about 1.5 times as many lines per second at S = 100
 * for about the same bytes per second.
 */
function asDelivered(report: (typeof MIX)[number], i: number) {
  return { seq: 1_000_000 + i, time: '2026-11-25T12:00:00.000Z', type: report.type, opts: report.opts };
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
