// The benchmark suite: eventd against the raw Node fan-out ceiling (and Redis pub/sub when
// redis-server is installed), side by side in one run,
// medians of three. Prints Markdown tables (docs/benchmarks.md holds the latest).
// Usage: npm run bench [-- --quick] [-- --only fanout|workers|latency|idle|stalled|forward|journal|harm]
// (--quick: one small run of each kind, under a minute)
// Exits 1 if any run lost an event. It asserts no speed: figures are for reading.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { defaultWorkers } from '../src/daemon/config.js';
import { connect, peakRssMiB, redisInstalled, rssMiB, startDaemon, startTarget, stats, tableHead, tableRow } from './lib.js';
import { runFanout, type FanoutParams, type FanoutResult } from './fanout.js';
import { natsInstalled, runForward, type ForwardResult } from './forward.js';
import { harmTable, runHarm } from './harm.js';
import { journalIngest, journalLatency, journalStartAndReplay, redisStreams, redisStreamsInstalled } from './journal.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const QUICK = values.quick;
const RUNS = QUICK ? 1 : 3;

const REDIS = redisInstalled();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let lostAnything = false;

/** One configuration's median figures over its runs. */
type Median = FanoutResult & { runs: number };

function summarize(results: FanoutResult[]): Median {
  for (const result of results) if (result.lost !== 0) lostAnything = true;
  const pick = (
    key:
      | 'ingest_events_per_s'
      | 'deliveries_per_s'
      | 'daemon_cpu_s_per_million_deliveries'
      | 'daemon_peak_rss_mib'
      | 'readers_busy'
      | 'readers_waiting',
  ) => median(results.map((r) => r[key]));
  return {
    ...results[0]!,
    ingest_events_per_s: pick('ingest_events_per_s'),
    deliveries_per_s: pick('deliveries_per_s'),
    daemon_cpu_s_per_million_deliveries: pick('daemon_cpu_s_per_million_deliveries'),
    daemon_peak_rss_mib: pick('daemon_peak_rss_mib'),
    readers_busy: pick('readers_busy'),
    readers_waiting: pick('readers_waiting'),
    ...(results[0]!.rate > 0
      ? {
          latency_ms: {
            p50: median(results.map((r) => r.latency_ms!.p50)),
            p99: median(results.map((r) => r.latency_ms!.p99)),
            max: median(results.map((r) => r.latency_ms!.max)),
          },
        }
      : {}),
    lost: Math.max(...results.map((r) => r.lost)),
    runs: results.length,
  };
}

/**
 * Medians over RUNS rounds, the configurations taking turns within each round: the machine's
 * load drifts, and back-to-back runs of one server would carry that drift into the ratios.
 */
async function mediansOf(configs: FanoutParams[], run: (params: FanoutParams) => Promise<FanoutResult> = runFanout): Promise<Median[]> {
  const results: FanoutResult[][] = configs.map(() => []);
  for (let round = 0; round < RUNS; round++) {
    for (const [i, params] of configs.entries()) results[i]!.push(await run(params));
  }
  return results.map(summarize);
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * About a second of measured time per run here (shorter runs are mostly noise: at S = 1000, 10,000
 * events took 0.6 s, of which V8's helper threads cost eventd a fixed 0.1 s or so).
 */
function eventsFor(subscribers: number): number {
  if (QUICK) return 20_000;
  return subscribers === 1 ? 300_000 : subscribers <= 100 ? 100_000 : 30_000;
}

async function fanoutMatrix(): Promise<void> {
  const S = QUICK ? [10] : [1, 10, 100, 1000];
  const P = QUICK ? [1] : [1, 4];
  const W = QUICK ? [2] : [1, 2, 4];
  console.log('\n### Fan-out and ingest (medians)\n');
  console.log(
    tableHead([
      'S',
      'P',
      'server',
      'W',
      'ingest ev/s (acked)',
      'deliveries/s',
      '× raw',
      'CPU s / 10⁶ deliveries',
      '× raw',
      'peak RSS MiB',
      'readers busy',
      'readers waiting',
      'spread',
      'lost',
    ]),
  );
  for (const subscribers of S) {
    for (const producers of P) {
      const base = { subscribers, producers, events: eventsFor(subscribers), ackEvery: 0, rate: 0 };
      const configs: FanoutParams[] = [
        { ...base, target: 'raw', workers: 1 },
        ...(REDIS ? [{ ...base, target: 'redis' as const, workers: 1 }] : []),
        ...W.map((workers) => ({ ...base, target: 'eventd' as const, workers })),
      ];
      const [raw, ...others] = await mediansOf(configs);
      for (const r of [raw!, ...others]) {
        const eventd = r.target === 'eventd';
        console.log(
          tableRow([
            subscribers,
            producers,
            r.target,
            eventd ? r.workers : '–',
            fmt(r.ingest_events_per_s),
            fmt(r.deliveries_per_s),
            r === raw ? 1 : (r.deliveries_per_s / raw!.deliveries_per_s).toFixed(2),
            r.daemon_cpu_s_per_million_deliveries,
            r === raw ? 1 : (r.daemon_cpu_s_per_million_deliveries / raw!.daemon_cpu_s_per_million_deliveries).toFixed(1),
            r.daemon_peak_rss_mib,
            r.readers_busy,
            r.readers_waiting,
            eventd ? (r.subscribers_per_worker?.join('/') ?? '–') : '–',
            r.lost,
          ]),
        );
      }
    }
  }
}

/**
 * Do more workers deliver more? Only if the daemon is what limits: here the load generator is
 * held to CPU 1 (taskset) and the daemon may use CPUs 0 and 1.
 */
async function workerScaling(): Promise<void> {
  const events = QUICK ? 2_000 : 10_000;
  const pinned = (params: FanoutParams) => runPinned(params, '1', '0,1');
  const configs = [1, 2].map((workers): FanoutParams => ({
    target: 'eventd',
    subscribers: 1000,
    producers: 1,
    workers,
    events,
    ackEvery: 0,
    rate: 0,
  }));
  const [one, two] = await mediansOf(configs, pinned);
  console.log('\n### Workers, with the load generator held to one CPU (medians)\n');
  console.log(tableHead(['S', 'W', 'deliveries/s', '× W = 1', 'CPU s / 10⁶ deliveries', 'spread', 'lost']));
  for (const r of [one!, two!]) {
    const ratio = (r.deliveries_per_s / one!.deliveries_per_s).toFixed(2);
    const spread = r.subscribers_per_worker?.join('/') ?? '–';
    console.log(tableRow([1000, r.workers, fmt(r.deliveries_per_s), ratio, r.daemon_cpu_s_per_million_deliveries, spread, r.lost]));
  }
}

/** One bench/fanout.ts run as its own process on `generatorCpus`, the server on `serverCpus`. */
function runPinned(params: FanoutParams, generatorCpus: string, serverCpus: string): Promise<FanoutResult> {
  const args = [
    '-c',
    generatorCpus,
    'npx',
    'tsx',
    'bench/fanout.ts',
    '--target',
    params.target,
    '--subscribers',
    String(params.subscribers),
    '--producers',
    String(params.producers),
    '--workers',
    String(params.workers),
    '--events',
    String(params.events),
  ];
  const run = spawnSync('taskset', args, { encoding: 'utf8', env: { ...process.env, EVENTD_BENCH_SERVER_CPUS: serverCpus } });
  if (run.status !== 0 && run.status !== 1) throw new Error(`bench/fanout.ts failed: ${run.stderr}`);
  return Promise.resolve(JSON.parse(run.stdout.trim().split('\n').pop()!) as FanoutResult);
}

async function latency(): Promise<void> {
  const rates = QUICK ? [250] : [250, 10_000];
  // eventd as it starts by default on this machine (1 worker on two cores or fewer).
  const workers = defaultWorkers();
  console.log(`\n### Latency at a fixed rate, 100 subscribers, eventd with ${workers} worker(s) (medians; sampled on 10 subscribers)\n`);
  console.log(tableHead(['rate ev/s', 'server', 'p50 ms', 'p99 ms', 'p99 × raw', 'max ms', 'lost']));
  for (const rate of rates) {
    const events = QUICK ? 500 : rate === 250 ? 2_500 : 50_000;
    const targets = REDIS ? (['raw', 'redis', 'eventd'] as const) : (['raw', 'eventd'] as const);
    const results = await mediansOf(
      targets.map((target) => ({ target, subscribers: 100, producers: 1, workers, events, ackEvery: 0, rate })),
    );
    const rawP99 = results[0]!.latency_ms!.p99;
    for (const r of results) {
      const { p50, p99, max } = r.latency_ms!;
      console.log(tableRow([fmt(rate), r.target, p50, p99, (p99 / rawP99).toFixed(2), max, r.lost]));
    }
  }
}

async function idleSubscribers(): Promise<void> {
  const count = QUICK ? 1000 : 10_000;
  // Room for the stats connection too: 10,000 is also the default --max-connections.
  const daemon = await startDaemon(['--workers', '2', '--max-connections', String(count + 10)]);
  const sockets = [];
  try {
    const before = rssMiB(daemon.proc.pid!);
    for (let i = 0; i < count; i++) sockets.push(await connect(daemon.eventsSocket));
    // Let the workers take them all.
    for (let tries = 0; tries < 100; tries++) {
      const spread = await daemon.spread();
      if (spread.reduce((a, b) => a + b, 0) > count) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const after = rssMiB(daemon.proc.pid!);
    console.log(
      `\n### Idle subscribers\n\n${fmt(count)} idle subscribers: daemon RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB with them (peak ${peakRssMiB(daemon.proc.pid!)} MiB); spread ${(await daemon.spread()).join('/')}.`,
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    await daemon.stop();
  }
}

/** Events (about 4 KB each, so 4 MB) the producer may be ahead of the healthy reader. */
const STALLED_WINDOW = 1000;

/** One subscriber never reads while a lot flows; the daemon's memory must stay bounded. */
async function stalledSubscriber(): Promise<void> {
  const totalBytes = QUICK ? 50 * 2 ** 20 : 2 ** 30;
  const daemon = await startTarget('eventd', 2);
  const pid = daemon.proc.pid!;
  try {
    const stalled = await connect(daemon.eventsSocket);
    stalled.pause();
    const healthy = await connect(daemon.eventsSocket);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const line = `${JSON.stringify({ type: 'management', opts: { id: 1, cmd: 'pad', opts: { pad: 'x'.repeat(4000) }, state: 'run' } })}\n`;
    const count = Math.ceil(totalBytes / line.length);
    let received = 0;
    let lastSeq = 0;
    let outOfOrder = 0;
    let peak = 0;
    let caughtUp: (() => void) | undefined;
    let healthyClosed = false;
    const finished = new Promise<void>((resolve) => {
      // The start of a line the last chunk cut (its seq is all that is read of it).
      let carry = '';
      healthy.on('data', (chunk: Buffer) => {
        const text = carry + chunk.toString('latin1');
        let start = 0;
        for (let end = text.indexOf('\n'); end !== -1; start = end + 1, end = text.indexOf('\n', start)) {
          received++;
          const seq = Number(text.slice(start + 7, text.indexOf(',', start)));
          if (lastSeq !== 0 && seq !== lastSeq + 1) outOfOrder++;
          lastSeq = seq;
        }
        carry = text.slice(start, start + 32);
        caughtUp?.();
        if (received >= count) resolve();
      });
      // Dropped (it must not be) or cut: say so rather than wait for ever.
      healthy.on('close', () => {
        healthyClosed = true;
        caughtUp?.();
        resolve();
      });
    });
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
    const producer = await connect(daemon.reportSocket);
    const batch = line.repeat(64);
    let sentTotal = 0;
    for (let sent = 0; sent < count && !healthyClosed; sent += 64) {
      sentTotal = sent + 64;
      const n = Math.min(64, count - sent);
      if (!producer.write(n === 64 ? batch : line.repeat(n))) await new Promise((resolve) => producer.once('drain', resolve));
      // Closed loop, as in fanout.ts: at most STALLED_WINDOW events ahead of the healthy reader (in
      // this same process), which a flood would otherwise outrun until it is dropped as too slow too.
      while (sent - received > STALLED_WINDOW && !healthyClosed) await new Promise<void>((resolve) => (caughtUp = resolve));
    }
    await finished;
    clearInterval(sampler);
    const dropped = (await daemon.spread()).reduce((a, b) => a + b, 0) - 1 < 2;
    console.log(
      `\n### A subscriber that never reads\n\n${(totalBytes / 2 ** 20).toFixed(0)} MiB of events (${count.toLocaleString('en-US')} × ${line.length} B) past a subscriber that never reads: daemon RSS peak ${peak.toFixed(1)} MiB; the reading subscriber got ${received === count ? 'all of them' : `${received} of ${count}`}; the stalled one was ${dropped ? 'dropped as too slow' : 'NOT dropped'}.`,
    );
    if (healthyClosed || outOfOrder > 0) {
      const figures = await stats(daemon.eventsSocket);
      console.log(
        `The reading subscriber was ${healthyClosed ? 'disconnected' : 'not disconnected'} after ${received} events of ${sentTotal} sent (last seq ${lastSeq}, ${outOfOrder} out of order); daemon: ${JSON.stringify(figures.subscribers_disconnected)}.`,
      );
    }
    if (received !== count || outOfOrder > 0) lostAnything = true;
    for (const socket of [stalled, healthy, producer]) socket.destroy();
  } finally {
    await daemon.stop();
  }
}

/** Forwarding into a local NATS JetStream (eventd forward), when nats-server is installed. */
async function forwarding(): Promise<void> {
  console.log('\n### Forwarding into NATS JetStream (eventd forward, medians)\n');
  if (!natsInstalled()) {
    console.log('Not measured: nats-server is not installed (apt-get install nats-server).');
    return;
  }
  const events = QUICK ? 5_000 : 100_000;
  const results: ForwardResult[] = [];
  for (let i = 0; i < RUNS; i++) results.push(await runForward(events));
  if (results.some((r) => r.lost !== 0 || r.duplicated !== 0)) lostAnything = true;
  const pick = (key: keyof ForwardResult) => median(results.map((r) => r[key]));
  const worst = (key: 'lost' | 'duplicated') => Math.max(...results.map((r) => r[key]));
  console.log(
    tableHead([
      'events',
      'forwarded ev/s (stored in JetStream)',
      'daemon ingest ev/s, same run',
      'forwarder CPU s',
      'nats-server CPU s',
      'lost',
      'duplicated',
    ]),
  );
  console.log(
    tableRow([
      fmt(events),
      fmt(pick('forwarded_events_per_s')),
      fmt(pick('daemon_ingest_events_per_s')),
      pick('forwarder_cpu_s'),
      pick('nats_cpu_s'),
      worst('lost'),
      worst('duplicated'),
    ]),
  );
}

const started = Date.now();
console.log(`eventd benchmarks (${QUICK ? 'quick' : 'full'}), ${new Date().toISOString()}, ${RUNS} run(s) each`);
console.log(
  REDIS
    ? 'Redis pub/sub compared (redis-server found).'
    : 'Redis pub/sub not compared: redis-server is not installed (apt-get install redis-server).',
);
/** A bystander's latency while each kind of misbehaving client runs (bench/harm.ts). */
async function harm(): Promise<void> {
  console.log('\n### No client harms another (bystander at 200 ev/s, 5 s per phase)\n');
  console.log(harmTable(await runHarm(5)));
}

/** What the journal costs, against Redis Streams' AOF, and what it gives (bench/journal.ts). */
async function journal(): Promise<void> {
  console.log('\n### The journal: ingest by --fsync policy (1 subscriber, 4 producers, 2 workers; medians; CPU µs per event by thread)\n');
  const ingest = await journalIngest(RUNS, QUICK ? 20_000 : 300_000);
  console.log(ingest.text);
  console.log('\n### The durable anchor: Redis Streams, XADD of the same line (redis-benchmark -c 4 -P 64)\n');
  if (redisStreamsInstalled()) {
    const redis = redisStreams(QUICK ? 20_000 : 500_000);
    console.log(tableHead(['Redis', 'XADD/s', '× no AOF']));
    for (const r of redis) console.log(tableRow([r.policy, fmt(Math.round(r.perSecond)), (r.perSecond / redis[0]!.perSecond).toFixed(2)]));
  } else console.log('Not measured: redis-server and redis-benchmark are not installed (apt-get install redis-server redis-tools).');
  let latencyLost = 0;
  for (const rate of QUICK ? [1000] : [2000, 10_000]) {
    console.log(`\n### The journal: latency at ${fmt(rate)} ev/s to 100 subscribers (medians; sampled on 10 subscribers)\n`);
    const latencies = await journalLatency(RUNS, rate, QUICK ? 2_000 : rate * 5);
    console.log(latencies.text);
    latencyLost += latencies.lost;
  }
  console.log('\n### The journal: start-up and a replay from disk\n');
  const big = await journalStartAndReplay(QUICK ? 32 * 2 ** 20 : 2 ** 30, QUICK ? 50_000 : 1_000_000);
  console.log(big.text);
  if (ingest.lost || latencyLost || big.lost) lostAnything = true;
}

// --only fanout|workers|latency|idle|stalled|forward|journal|harm runs one part (harm is left out of --quick).
const parts = {
  fanout: fanoutMatrix,
  workers: workerScaling,
  latency,
  idle: idleSubscribers,
  stalled: stalledSubscriber,
  forward: forwarding,
  journal,
  ...(QUICK ? {} : { harm }),
};
for (const [name, part] of Object.entries(parts)) if (values.only === undefined || values.only === name) await part();
console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s. Lost events in any run: ${lostAnything ? 'YES' : 0}.`);
if (lostAnything) process.exitCode = 1;
