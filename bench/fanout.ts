// Fan-out measurement: S subscribers, P producers, W workers, N events of a realistic mix,
// against eventd, the raw ceiling server (bench/raw-server.ts) or Redis pub/sub.
// Usage: npx tsx bench/fanout.ts [--target eventd|raw|redis] [--subscribers 100] [--producers 1]
//        [--workers 2] [--events 200000] [--ack-every 0] [--rate 0]
// --rate R sends at a fixed R events/s and reports latency (sampled on up to 10 subscribers).
// Each server is warmed up first with events that are not measured (warmUpEvents).
// Not a test: it prints one JSON line of figures; `lost` says whether anything went missing.
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  connect,
  cpuSeconds,
  machineTicks,
  MIX,
  nowMs,
  peakRssMiB,
  runQueueSeconds,
  startTarget,
  threadCpuSeconds,
  type Target,
} from './lib.js';
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
  /** More options for eventd (--ingest-threads 2, --journal DIR --fsync always, …). */
  args?: string[];
}

export interface FanoutResult extends FanoutParams {
  ingest_events_per_s: number;
  deliveries_per_s: number;
  end_to_end_events_per_s: number;
  daemon_cpu_s: number;
  daemon_cpu_s_per_million_deliveries: number;
  daemon_peak_rss_mib: number;
  /**
   * Lines per read in the subscriber process: a server whose writes arrive in smaller pieces costs
   * its readers more reads (syscalls, wake-ups) for the same lines.
   */
  deliveries_per_read: number;
  /**
   * CPU seconds of the load generator over the measured run: the subscriber process (every reader,
   * one thread) and this process (the producers, and the readers' progress messages: an upper bound
   * for the producers). The readers are the busiest process in a saturated run; when they take a
   * whole core, deliveries/s measures them as much as the server.
   */
  load_cpu_s: { subscribers: number; producers: number };
  /** The subscriber process's CPU over the run's seconds: near 1, the readers limit the run. */
  readers_busy: number;
  /**
   * Share of the run the readers' thread was ready to run but waited for a CPU (its run-queue
   * time): on two cores, what the server's threads (and the producers) took from the readers.
   */
  readers_waiting: number;
  /** Share of the machine's CPU time no thread wanted during the run (/proc/stat). */
  machine_idle: number;
  latency_ms?: { p50: number; p99: number; max: number };
  subscribers_per_worker?: number[];
  /** eventd: CPU µs per ingested event, in all and by thread (main, each worker, the journal, other). */
  cpu_us_per_event?: number;
  thread_cpu_us_per_event?: Record<string, number>;
  lost: number;
}

const LATENCY_SAMPLERS = 10;
/**
 * Subscribers that also check seq order on every line (counting alone is cheaper for the rest).
 * The raw server's readers run the same check, its result unused, so that both servers' readers do
 * the same work per line; Redis's wire has its own reader.
 */
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
    this.child = fork(script, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, GLIBC_TUNABLES: keepHeapTop(process.env.GLIBC_TUNABLES) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
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

  /** Starts a round: every connection must get perSocket events; progress counts from zero. */
  start(perSocket: number): Promise<Extract<FromSubscribers, { t: 'done' }>> {
    this.progress = 0;
    this.send({ t: 'start', perSocket });
    return this.next('done');
  }

  get pid(): number {
    return this.child.pid!;
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

/**
 * glibc's tunables for the reader process: keep freed heap rather than give it back. Each read
 * takes a 64 KiB buffer from malloc; when a GC freed a few hundred of them glibc trimmed the heap's
 * top (past 128 KiB free) and the next reads faulted it in again. Run to run that churn varied by
 * a factor of four (80,000–360,000 page faults in a run at S = 1000) and with it the readers' CPU,
 * and deliveries/s swung 3–19 M for one server; with the trim threshold raised, 22,000–27,000
 * faults and 17–19 M. Only the load generator gets this: the servers run as users run them.
 */
function keepHeapTop(tunables: string | undefined): string {
  return [tunables, 'glibc.malloc.trim_threshold=1073741824'].filter(Boolean).join(':');
}

export async function runFanout(params: FanoutParams): Promise<FanoutResult> {
  const { subscribers: S, producers: P, events: N } = params;
  const daemon = await startTarget(params.target, params.workers, params.args);
  const frame = params.target === 'redis' ? frameRedis : frameLine;
  const sockets: net.Socket[] = [];
  const subscribers = new SubscriberProcess({
    socket: daemon.eventsSocket,
    count: S,
    wire: params.target === 'redis' ? 'redis' : 'lines',
    samplers: params.rate > 0 ? LATENCY_SAMPLERS : 0,
    orderCheckers: params.target === 'redis' ? 0 : ORDER_CHECKERS,
  });
  try {
    const probe = await connect(daemon.reportSocket);
    sockets.push(probe);
    await untilLive(probe, subscribers, frame);
    const producers = await Promise.all(Array.from({ length: P }, () => connect(daemon.reportSocket)));
    sockets.push(...producers);
    const shareOf = (events: number, p: number) => Math.floor(events / P) + (p < events % P ? 1 : 0);
    // The warm-up, as fast as the server takes it, not measured.
    const warm = warmUpEvents(params);
    if (warm > 0) {
      const warmed = subscribers.start(warm);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const warmLoad = new Load({ ...params, rate: 0 }, subscribers, frame);
      await Promise.all(producers.map((producer, p) => warmLoad.produce(producer, shareOf(warm, p))));
      const { delivered } = await warmed;
      if (delivered < warm * S) throw new Error(`the warm-up lost events (${delivered} of ${warm * S} delivered)`);
    }
    const distributed = subscribers.start(N);
    const pid = daemon.proc.pid!;
    // Let the subscriber process see its start message before the first event.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const load = new Load(params, subscribers, frame);
    const cpuBefore = cpuSeconds(pid);
    const threadsBefore = params.target === 'eventd' ? threadCpuSeconds(pid) : undefined;
    const loadBefore = {
      subscribers: cpuSeconds(subscribers.pid),
      readersWaiting: runQueueSeconds(subscribers.pid),
      producers: process.cpuUsage(),
      machine: machineTicks(),
    };
    const startedAt = nowMs();
    await Promise.all(producers.map((producer, p) => load.produce(producer, shareOf(N, p))));
    const ingestSeconds = (performance.now() - load.started) / 1000;
    const done = await distributed;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const totalSeconds = Math.max((done.doneAt - startedAt) / 1000, ingestSeconds);
    const generator = loadCpu(subscribers.pid, loadBefore, totalSeconds);
    const byThread = threadsBefore === undefined ? undefined : perEvent(threadsBefore, threadCpuSeconds(pid), N);
    return {
      ...params,
      ...figures(params, done, {
        ingestSeconds,
        totalSeconds,
        cpu,
        peakRss: peakRssMiB(pid),
      }),
      ...generator,
      ...(params.target === 'eventd'
        ? { subscribers_per_worker: await daemon.spread(), cpu_us_per_event: round((cpu * 1e6) / N), thread_cpu_us_per_event: byThread }
        : {}),
    };
  } finally {
    subscribers.stop();
    for (const socket of sockets) socket.destroy();
    await daemon.stop();
  }
}

/**
 * Events sent, unmeasured, before the measured run: a server starts cold (eventd's JavaScript runs
 * in V8's interpreter until its compilers have seen enough of it, on threads of the daemon's own),
 * and in a run of 50,000 events that start was a third of eventd's CPU per event, where a daemon
 * that has been up for a minute has long paid it. Every server gets the same warm-up: 50,000
 * events (2,000 at S = 1000 left eventd's delivery loop cold: it runs once per record, not per
 * event), or enough for 20 M deliveries up to 200,000 events if that is more, or as many as the
 * run has if fewer. The delivery path warms with what it sends: after 50,000 events at S = 100
 * (5 M deliveries) V8 was still compiling it during the measured run, about 8 % of eventd's CPU
 * there (perf; docs/benchmarks.md, seventh session). EVENTD_BENCH_WARM_UP=N sends N (0: cold).
 */
function warmUpEvents(params: FanoutParams): number {
  const override = process.env.EVENTD_BENCH_WARM_UP;
  if (override !== undefined) return Number(override);
  const forDeliveries = Math.min(200_000, Math.ceil(20_000_000 / params.subscribers));
  return Math.min(params.events, Math.max(50_000, forDeliveries));
}

/**
 * Probes until every subscriber has had a line (a connection the server has not accepted yet
 * misses what is published before), then lets stragglers land.
 */
async function untilLive(probe: net.Socket, subscribers: SubscriberProcess, frame: (json: string) => string): Promise<void> {
  let live = false;
  const allLive = subscribers.next('live').then(() => (live = true));
  while (!live) {
    probe.write(frame(JSON.stringify(MIX[0])));
    await Promise.race([allLive, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** The producers' side of one run: closed loop (at most WINDOW ahead of the slowest subscriber), or a fixed rate. */
class Load {
  readonly started = performance.now();
  private sentTotal = 0;
  private readonly lines: string[];
  private readonly ackedLines: string[];
  private readonly lastLine: string;

  constructor(
    private readonly params: FanoutParams,
    private readonly subscribers: SubscriberProcess,
    private readonly frame: (json: string) => string,
  ) {
    // eventd gets reports; the others, which only pass bytes on, get lines shaped like what
    // eventd delivers for them, so every server delivers the same bytes per event (see SAME_BYTES).
    const shaped = params.target === 'eventd' ? MIX : MIX.map(asDelivered);
    this.lines = shaped.map((report) => frame(JSON.stringify(report)));
    this.ackedLines = shaped.map((report) => frame(JSON.stringify({ ...report, ack: 0 })));
    this.lastLine = frame(JSON.stringify({ ...shaped[0], ack: 'last' }));
  }

  /** Sends `share` events on one producer connection; resolves once the server answered the last. */
  produce(producer: net.Socket, share: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.onLastAnswer(producer, share, resolve);
      if (this.params.rate > 0) this.atRate(producer, share);
      else this.closedLoop(producer, share);
    });
  }

  /** Redis answers every PUBLISH: count the answers. The line servers answer the last report ("ack":"last"), which may straddle two reads. */
  private onLastAnswer(producer: net.Socket, share: number, resolve: () => void): void {
    let tail = '';
    let answers = 0;
    producer.on('data', (chunk: Buffer) => {
      if (this.params.target === 'redis') {
        for (const byte of chunk) if (byte === 58) answers++; // ':'
        if (answers >= share) resolve();
        return;
      }
      const text = tail + chunk.toString('latin1');
      if (text.includes('"ack":"last"')) resolve();
      tail = text.slice(-16);
    });
  }

  /** Fixed rate, in 1 ms ticks; every event carries its send time. */
  private atRate(producer: net.Socket, share: number): void {
    const perProducer = this.params.rate / this.params.producers;
    let sent = 0;
    const tick = () => {
      const due = Math.min(share, Math.floor(((performance.now() - this.started) / 1000) * perProducer));
      let batch = '';
      for (; sent < due; sent++) {
        const report = { type: 'management', opts: { id: sent, cmd: 'bench', opts: { sent_ms: nowMs() }, state: 'run' } };
        batch += this.frame(JSON.stringify(sent === share - 1 ? { ...report, ack: 'last' } : report));
      }
      if (batch) producer.write(batch);
      if (sent < share) setTimeout(tick, 1);
    };
    tick();
  }

  /** As fast as the server takes it, but never more than WINDOW events ahead of the slowest subscriber. */
  private closedLoop(producer: net.Socket, share: number): void {
    let sent = 0;
    const next = () => (ackWanted(this.params, sent) ? this.ackedLines : this.lines)[sent % this.lines.length]!;
    const pump = () => {
      while (sent < share) {
        if (this.sentTotal - this.subscribers.progress >= WINDOW) return void this.subscribers.changed().then(pump);
        let batch = '';
        const before = sent;
        for (let i = 0; i < 256 && sent < share - 1; i++, sent++) batch += next();
        if (sent === share - 1) {
          batch += this.lastLine;
          sent++;
        }
        this.sentTotal += sent - before;
        if (!producer.write(batch)) return void producer.once('drain', pump);
      }
    };
    pump();
  }
}

/** What the load generator used over a run of `seconds`, and how idle the machine was (see FanoutResult.load_cpu_s). */
function loadCpu(
  subscribersPid: number,
  before: { subscribers: number; readersWaiting: number; producers: NodeJS.CpuUsage; machine: { idle: number; total: number } },
  seconds: number,
): Pick<FanoutResult, 'load_cpu_s' | 'readers_busy' | 'readers_waiting' | 'machine_idle'> {
  const readers = cpuSeconds(subscribersPid) - before.subscribers;
  const producers = process.cpuUsage(before.producers);
  const machine = machineTicks();
  return {
    load_cpu_s: {
      subscribers: Number(readers.toFixed(2)),
      producers: Number(((producers.user + producers.system) / 1e6).toFixed(2)),
    },
    readers_busy: Number((readers / seconds).toFixed(2)),
    readers_waiting: Number(((runQueueSeconds(subscribersPid) - before.readersWaiting) / seconds).toFixed(2)),
    machine_idle: Number(((machine.idle - before.machine.idle) / Math.max(machine.total - before.machine.total, 1)).toFixed(3)),
  };
}

/** A run's figures from what the subscriber process saw and the server's CPU and memory. */
function figures(
  params: FanoutParams,
  done: Extract<FromSubscribers, { t: 'done' }>,
  measured: { ingestSeconds: number; totalSeconds: number; cpu: number; peakRss: number },
): Omit<FanoutResult, keyof FanoutParams | keyof ReturnType<typeof loadCpu>> {
  const { events: N, subscribers: S } = params;
  const { ingestSeconds, totalSeconds, cpu } = measured;
  const sorted = done.latencies.sort((a, b) => a - b);
  const { delivered } = done;
  // Only eventd's lines carry seqs in order; the raw server's readers check theirs for the work alone.
  const outOfOrder = params.target === 'eventd' ? done.outOfOrder : 0;
  if (outOfOrder > 0) console.error(`${outOfOrder} events out of order`);
  return {
    ingest_events_per_s: Math.round(N / ingestSeconds),
    deliveries_per_s: Math.round(delivered / totalSeconds),
    end_to_end_events_per_s: Math.round(N / totalSeconds),
    daemon_cpu_s: Number(cpu.toFixed(2)),
    daemon_cpu_s_per_million_deliveries: Number(((cpu * 1e6) / Math.max(delivered, 1)).toFixed(3)),
    daemon_peak_rss_mib: measured.peakRss,
    deliveries_per_read: Math.round(delivered / Math.max(done.reads, 1)),
    ...(params.rate > 0
      ? {
          latency_ms: {
            p50: round(percentile(sorted, 50)),
            p99: round(percentile(sorted, 99)),
            max: round(sorted[sorted.length - 1] ?? 0),
          },
        }
      : {}),
    // Out-of-order deliveries count as lost: the run fails either way.
    lost: S * N - delivered + outOfOrder,
  };
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

/** CPU µs per event of each thread, between two readings of threadCpuSeconds. */
function perEvent(before: Map<string, number>, after: Map<string, number>, events: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, seconds] of after) out[name] = round(((seconds - (before.get(name) ?? 0)) * 1e6) / events);
  return out;
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
      args: { type: 'string', default: '' },
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
    args: values.args.split(' ').filter(Boolean),
  });
  console.log(JSON.stringify(result));
  if (result.lost !== 0) process.exitCode = 1;
}
