// What the journal costs and what it gives, side by side in one run:
//   - ingest with no journal and with each --fsync policy (ratios to no journal), with CPU per
//     event for each thread of the daemon (/proc/PID/task/*/stat);
//   - the durable anchor: Redis Streams (XADD of the same lines) with no AOF, appendfsync
//     everysec and always, measured by redis-benchmark (ratios to Redis without AOF);
//   - p99 latency at a fixed rate, 100 subscribers, with and without the journal;
//   - start-up on a 1 GiB journal, and a `since` replay of 1,000,000 events from disk.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchBuilder } from '../src/ipc/batch.js';
import { openJournal } from '../src/journal/open.js';
import { JOURNAL_CONSUMER } from '../src/journal/store.js';
import { JournalWriter } from '../src/journal/writer.js';
import { EVENT_TYPES, type EventType } from '../src/protocol/event-types.js';
import { EventRing } from '../src/ring/event-ring.js';
import { runFanout, type FanoutParams, type FanoutResult } from './fanout.js';
import { connect, MIX, nowMs, peakRssMiB, startDaemon, tableHead, tableRow } from './lib.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export type JournalMode = 'none' | 'never' | 'interval' | 'always';
const MODES: JournalMode[] = ['none', 'never', 'interval', 'always'];

/** One fan-out run with a fresh journal directory of its own (removed after), or none. */
async function withJournal(params: FanoutParams, mode: JournalMode): Promise<FanoutResult> {
  if (mode === 'none') return runFanout(params);
  const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-journal-'));
  try {
    return await runFanout({ ...params, args: [...(params.args ?? []), '--journal', dir, '--fsync', mode] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each mode's results over `runs` rounds, the modes taking turns within a round (the load drifts). */
async function rounds(params: FanoutParams, modes: JournalMode[], runs: number): Promise<Map<JournalMode, FanoutResult[]>> {
  const results = new Map(modes.map((mode) => [mode, [] as FanoutResult[]]));
  for (let round = 0; round < runs; round++) for (const mode of modes) results.get(mode)!.push(await withJournal(params, mode));
  return results;
}

export interface JournalBenchResult {
  lost: number;
  text: string;
}

/** Ingest by policy: 1 subscriber, 4 producers, 2 workers; ratios to the same daemon without a journal. */
export async function journalIngest(runs: number, events: number): Promise<JournalBenchResult> {
  const params: FanoutParams = { target: 'eventd', subscribers: 1, producers: 4, workers: 2, events, ackEvery: 0, rate: 0 };
  const results = await rounds(params, MODES, runs);
  const lines = [
    tableHead([
      'journal',
      'ingest ev/s (acked)',
      '× no journal',
      'CPU µs/event',
      'main',
      'workers',
      'journal thread',
      'other threads',
      'peak RSS MiB',
      'lost',
    ]),
  ];
  let lost = 0;
  const base = median(results.get('none')!.map((r) => r.ingest_events_per_s));
  for (const mode of MODES) {
    const rs = results.get(mode)!;
    lost += Math.max(...rs.map((r) => r.lost));
    const rate = median(rs.map((r) => r.ingest_events_per_s));
    const thread = (pick: (name: string) => boolean) =>
      median(
        rs.map((r) => Object.entries(r.thread_cpu_us_per_event ?? {}).reduce((sum, [name, us]) => sum + (pick(name) ? us : 0), 0)),
      ).toFixed(2);
    lines.push(
      tableRow([
        mode === 'none' ? '--no-journal' : `--fsync ${mode}`,
        fmt(rate),
        (rate / base).toFixed(2),
        median(rs.map((r) => r.cpu_us_per_event ?? 0)).toFixed(2),
        thread((name) => name === 'eventd'),
        thread((name) => /^eventd-w\d+$/.test(name)),
        thread((name) => name === 'eventd-journal'),
        thread((name) => name === 'other'),
        median(rs.map((r) => r.daemon_peak_rss_mib)),
        Math.max(...rs.map((r) => r.lost)),
      ]),
    );
  }
  return { lost, text: lines.join('\n') };
}

/** p50/p99/max at `rate` events/s to 100 subscribers, by journal mode. */
export async function journalLatency(runs: number, rate: number, events: number): Promise<JournalBenchResult> {
  const params: FanoutParams = { target: 'eventd', subscribers: 100, producers: 1, workers: 2, events, ackEvery: 0, rate };
  const modes: JournalMode[] = ['none', 'interval', 'always'];
  const results = await rounds(params, modes, runs);
  const lines = [tableHead(['journal', 'rate ev/s', 'p50 ms', 'p99 ms', 'p99 × no journal', 'max ms', 'lost'])];
  let lost = 0;
  const p99 = (mode: JournalMode) => median(results.get(mode)!.map((r) => r.latency_ms!.p99));
  for (const mode of modes) {
    const rs = results.get(mode)!;
    lost += Math.max(...rs.map((r) => r.lost));
    lines.push(
      tableRow([
        mode === 'none' ? '--no-journal' : `--fsync ${mode}`,
        fmt(rate),
        median(rs.map((r) => r.latency_ms!.p50)),
        p99(mode),
        (p99(mode) / p99('none')).toFixed(2),
        median(rs.map((r) => r.latency_ms!.max)),
        Math.max(...rs.map((r) => r.lost)),
      ]),
    );
  }
  return { lost, text: lines.join('\n') };
}

export function redisStreamsInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-benchmark', ['--version']).status === 0;
}

/**
 * XADD of an event line as eventd delivers it, by redis-benchmark (4 clients, pipelines of 64,
 * over a Unix socket): requests/s with no AOF, appendfsync everysec and always.
 */
export function redisStreams(requests: number): { policy: string; perSecond: number }[] {
  const line = JSON.stringify({ seq: 123456, time: new Date().toISOString(), ...MIX[0] });
  const out: { policy: string; perSecond: number }[] = [];
  for (const [policy, config] of [
    ['no AOF', ['--appendonly', 'no']],
    ['AOF everysec', ['--appendonly', 'yes', '--appendfsync', 'everysec']],
    ['AOF always', ['--appendonly', 'yes', '--appendfsync', 'always']],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-redis-'));
    const socket = join(dir, 'redis.sock');
    const server = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--dir', dir, '--save', '', ...config], {
      stdio: 'ignore',
    });
    try {
      for (let i = 0; i < 100 && spawnSync('redis-cli', ['-s', socket, 'ping']).stdout?.toString().trim() !== 'PONG'; i++) {
        spawnSync('sleep', ['0.05']);
      }
      const run = spawnSync(
        'redis-benchmark',
        ['-s', socket, '-c', '4', '-P', '64', '-n', String(requests), '-q', 'XADD', 's', '*', 'd', line],
        {
          encoding: 'utf8',
        },
      );
      const match = /([\d.]+) requests per second/.exec(run.stdout.split('\r').pop() ?? run.stdout);
      out.push({ policy, perSecond: match ? Number(match[1]) : NaN });
    } finally {
      server.kill('SIGKILL');
      spawnSync('sleep', ['0.1']);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/**
 * Writes about `bytes` of events (the bench mix, stamped as the daemon stamps them) into a
 * journal in `dir` with the daemon's own writer, as fast as it goes; returns the event count.
 */
export function fillJournal(dir: string, bytes: number): number {
  const opened = openJournal(dir, 'never');
  const ring = EventRing.create(64 << 20, { nextSeq: opened.nextSeq, gated: true, seqLimit: opened.lease });
  ring.join(JOURNAL_CONSUMER);
  const writer = new JournalWriter(
    ring,
    JOURNAL_CONSUMER,
    opened,
    { policy: 'never', segmentBytes: 64 << 20, maxBytes: Infinity, maxAgeMs: Infinity },
    () => {},
  );
  const tails = MIX.map((report) => ({
    tail: `${JSON.stringify(report).slice(1)}\n`,
    code: EVENT_TYPES.indexOf(report.type as EventType),
  }));
  const builder = new BatchBuilder();
  let events = 0;
  let written = 0;
  const start = Date.now() - 3_600_000;
  while (written < bytes) {
    builder.clear();
    for (let k = 0; k < 256; k++, events++) {
      const { tail, code } = tails[events % tails.length]!;
      builder.add(tail, code);
      written += tail.length + 50;
    }
    // An hour of history, oldest first, so `since_time` has something to find.
    const time = start + Math.floor((events / (bytes / 250)) * 3_600_000);
    const result = ring.write(builder.view(), time);
    if (!result.ok) throw new Error(`ring write failed: ${result.why}`);
    writer.step(time);
  }
  writer.stop();
  closeSync(opened.lockFd);
  return events;
}

/** Milliseconds from spawning `eventd serve` on `args` until both sockets answer. */
async function startupMs(
  args: string[],
): Promise<{ ms: number; stop: () => Promise<void>; daemon: Awaited<ReturnType<typeof startDaemon>> }> {
  const started = nowMs();
  const daemon = await startDaemon(args);
  return { ms: nowMs() - started, stop: () => daemon.stop(), daemon };
}

/** Start-up on an empty and on a `bytes` journal, then a replay of `replay` events from disk (events/s, daemon peak RSS). */
export async function journalStartAndReplay(bytes: number, replay: number): Promise<JournalBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-big-'));
  const empty = mkdtempSync(join(tmpdir(), 'eventd-bench-empty-'));
  try {
    const filledAt = Date.now();
    const events = fillJournal(join(dir, 'journal'), bytes);
    const fillSeconds = (Date.now() - filledAt) / 1000;
    const emptyStart = await startupMs(['--journal', join(empty, 'journal')]);
    await emptyStart.stop();
    // The files as a restart finds them: in the page cache (a cold start reads the same few MiB:
    // the last segment's tail and the indexes).
    const big = await startupMs(['--journal', join(dir, 'journal')]);
    const pid = big.daemon.proc.pid!;
    const rssBefore = peakRssMiB(pid);
    const subscriber = await connect(big.daemon.eventsSocket);
    const since = events - replay;
    let received = 0;
    let firstSeq = 0;
    let tail = '';
    const replayStarted = nowMs();
    const done = new Promise<void>((resolve) => {
      subscriber.on('data', (chunk: Buffer) => {
        const text = tail + chunk.toString('latin1');
        let from = 0;
        let at: number;
        while ((at = text.indexOf('\n', from)) !== -1) {
          if (text.startsWith('{"seq":', from)) {
            received++;
            if (firstSeq === 0) firstSeq = Number(text.slice(from + 7, text.indexOf(',', from)));
          }
          from = at + 1;
        }
        tail = text.slice(from);
        if (received >= replay) resolve();
      });
    });
    subscriber.write(`${JSON.stringify({ cmd: 'event_subscribe', opts: { since } })}\n`);
    await done;
    const replaySeconds = (nowMs() - replayStarted) / 1000;
    const peak = peakRssMiB(pid);
    subscriber.destroy();
    await big.stop();
    const lost = firstSeq === since + 1 && received === replay ? 0 : replay - received || 1;
    const text = [
      `A journal of ${(bytes / 2 ** 30).toFixed(2)} GiB (${fmt(events)} events of the bench mix, written in ${fillSeconds.toFixed(1)} s by the journal's writer, --fsync never):`,
      '',
      tableHead(['', 'figure']),
      tableRow(['start-up, empty journal (spawn to both sockets answering)', `${emptyStart.ms.toFixed(0)} ms`]),
      tableRow([`start-up, ${(bytes / 2 ** 30).toFixed(2)} GiB journal`, `${big.ms.toFixed(0)} ms`]),
      tableRow([
        `\`since\` replay of ${fmt(replay)} events from disk`,
        `${fmt(replay / replaySeconds)} events/s (${replaySeconds.toFixed(2)} s)`,
      ]),
      tableRow(['daemon peak RSS before / after the replay', `${rssBefore} / ${peak} MiB`]),
      tableRow([
        'events replayed in order from since + 1, none missing',
        lost === 0 ? 'yes' : `NO (${received} of ${replay}, first ${firstSeq})`,
      ]),
    ].join('\n');
    return { lost, text };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
}
