// "No client harms another": a bystander's latency while each kind of misbehaving client runs,
// against the same bystander on a quiet daemon. The attackers run in a process of their own, so
// their work does not delay the measuring loop; on 2 cores they still compete with the daemon.
// Usage: npx tsx bench/harm.ts [--seconds 3]   (also part of `npm run bench -- --only harm`)
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, cpuSeconds, nowMs, rssMiB, startDaemon, tableHead, tableRow, type BenchDaemon } from './lib.js';

/** What each attacker does, on its own connections, until it is killed. */
const ATTACKS = {
  /** 8 clients ask for the whole history (60 MB of 30 KiB events) and never read. */
  'stalled replays': async (daemon: Paths) => {
    for (let i = 0; i < 8; i++) (await connect(daemon.events)).pause().write('{"cmd":"event_subscribe","opts":{"since":0}}\n');
  },
  /** 100 subscribers with filters of 1,024 values each, reading everything they get. */
  'large filters': async (daemon: Paths) => {
    const ids = Array.from({ length: 1024 }, (_, i) => `ct${i}`);
    for (let i = 0; i < 100; i++) {
      const socket = await connect(daemon.events);
      socket.resume();
      socket.write(`${JSON.stringify({ cmd: 'event_subscribe', opts: { opts: { id: ids, cmd: ids } } })}\n`);
    }
  },
  /**
   * 1,000 connections, half on each socket, sending one byte every 10 ms and never finishing a
   * line (the subscribers first ask for an event type nobody reports: fanning events out to 500
   * more subscribers would be a cost of its own, not of the trickle).
   */
  'slow bytes': async (daemon: Paths) => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 1000; i++) {
      const socket = await connect(i % 2 === 0 ? daemon.report : daemon.events);
      if (i % 2 === 1) socket.write('{"cmd":"event_subscribe","opts":{"type":"ct_exit"}}\n');
      sockets.push(socket.resume());
    }
    setInterval(() => {
      for (const socket of sockets) socket.write('x');
    }, 10);
  },
  /** A subscriber that never reads (dropped once 8 MiB is queued for it). */
  'non-reader': async (daemon: Paths) => {
    (await connect(daemon.events)).pause();
  },
  /** A producer writing invalid lines as fast as it can and never reading the errors. */
  'invalid flood': async (daemon: Paths) => {
    const socket = await connect(daemon.report);
    socket.pause();
    const junk = Buffer.from('{"type":"state","opts":{"pool":"x"}}\n'.repeat(1000));
    const write = () => {
      while (socket.write(junk));
      socket.once('drain', write);
    };
    write();
  },
  /**
   * 100 subscribers sending commands their schema refuses, each as soon as the last is answered:
   * a worker checks commands without zod and asks the main thread why one is refused.
   */
  'invalid commands': async (daemon: Paths) => {
    const line = '{"cmd":"event_subscribe","opts":{"since":-1,"type":"nope"}}\n';
    for (let i = 0; i < 100; i++) {
      const socket = await connect(daemon.events);
      socket.write('{"cmd":"event_subscribe","opts":{"type":"ct_exit"}}\n');
      socket.on('data', (chunk: Buffer) => {
        for (let n = chunk.filter((byte) => byte === 10).length; n > 0; n--) socket.write(line);
      });
    }
  },
} as const;

type Attack = keyof typeof ATTACKS;
interface Paths {
  report: string;
  events: string;
}

export interface HarmResult {
  phase: string;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  events: number;
  daemon_rss_mib: number;
  /** CPU the daemon and the attacker used during the measurement, in % of one core. */
  daemon_cpu_pct: number;
  attacker_cpu_pct: number;
}

const RATE_PER_S = 200;

/** Reports management events carrying their send time at RATE_PER_S; the bystander takes them. */
async function measure(daemon: BenchDaemon, seconds: number, phase: string, attackerPid?: number): Promise<HarmResult> {
  const cpu = (pid: number | undefined) => (pid === undefined ? 0 : cpuSeconds(pid));
  const [daemonCpu, attackerCpu, started] = [cpu(daemon.proc.pid), cpu(attackerPid), nowMs()];
  const producer = await connect(daemon.reportSocket);
  producer.resume();
  const bystander = await connect(daemon.eventsSocket);
  bystander.write('{"cmd":"event_subscribe","opts":{"type":"management","opts":{"cmd":"bystander"}}}\n');
  const latencies: number[] = [];
  let partial = '';
  let live = false;
  let onLive: () => void = () => {};
  const isLive = new Promise<void>((resolve) => (onLive = resolve));
  bystander.setEncoding('utf8').on('data', (chunk: string) => {
    const now = nowMs();
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!live) {
        live = true;
        onLive();
        continue;
      }
      latencies.push(now - (JSON.parse(line) as { opts: { opts: { sent_ms: number } } }).opts.opts.sent_ms);
    }
  });
  await isLive;
  let sent = 0;
  const timer = setInterval(() => {
    producer.write(
      `${JSON.stringify({ type: 'management', opts: { id: ++sent, cmd: 'bystander', opts: { sent_ms: nowMs() }, state: 'run' } })}\n`,
    );
  }, 1000 / RATE_PER_S);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  const pct = (pid: number | undefined, before: number) => Math.round(((cpu(pid) - before) * 100_000) / (nowMs() - started));
  const daemon_cpu_pct = pct(daemon.proc.pid, daemonCpu);
  const attacker_cpu_pct = pct(attackerPid, attackerCpu);
  await new Promise((resolve) => setTimeout(resolve, 300));
  producer.destroy();
  bystander.destroy();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(2));
  return {
    phase,
    p50_ms: pick(0.5),
    p99_ms: pick(0.99),
    max_ms: pick(1),
    events: latencies.length,
    daemon_rss_mib: Math.round(rssMiB(daemon.proc.pid!)),
    daemon_cpu_pct,
    attacker_cpu_pct,
  };
}

/** Fills the history with 60 MB (2,000 events of 30 KiB) for the replay attack. */
async function fillHistory(daemon: BenchDaemon): Promise<void> {
  const producer = await connect(daemon.reportSocket);
  const blob = 'x'.repeat(30 * 1024);
  for (let i = 1; i <= 2000; i++) {
    const ok = producer.write(
      `${JSON.stringify({ type: 'management', opts: { id: i, cmd: 'fill', opts: { blob }, state: 'done' }, ...(i === 2000 ? { ack: 1 } : {}) })}\n`,
    );
    if (!ok) await new Promise((resolve) => producer.once('drain', resolve));
  }
  await new Promise((resolve) => producer.once('data', resolve));
  producer.destroy();
}

export async function runHarm(seconds = 3): Promise<HarmResult[]> {
  const daemon = await startDaemon();
  try {
    await fillHistory(daemon);
    const results = [await measure(daemon, seconds, 'quiet')];
    for (const attack of Object.keys(ATTACKS) as Attack[]) {
      const attacker = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), 'attack', attack, daemon.reportSocket, daemon.eventsSocket],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const exited = new Promise((resolve) => attacker.once('exit', resolve));
      // Measured once the attacker has all its connections, and they have settled.
      await new Promise((resolve) => attacker.stdout.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      results.push(await measure(daemon, seconds, attack, attacker.pid));
      process.stderr.write(`${JSON.stringify(results.at(-1))}\n`);
      attacker.kill('SIGKILL');
      await exited;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return results;
  } finally {
    await daemon.stop();
  }
}

export function harmTable(results: HarmResult[]): string {
  const quiet = results[0]!;
  const head = [
    'misbehaving client',
    'bystander p50 ms',
    'p99 ms',
    'max ms',
    'p99 / quiet',
    'events',
    'daemon CPU',
    'attacker CPU',
    'daemon RSS MiB',
  ];
  const rows = results.map((r) =>
    tableRow([
      r.phase,
      r.p50_ms,
      r.p99_ms,
      r.max_ms,
      `${(r.p99_ms / quiet.p99_ms).toFixed(2)}×`,
      r.events,
      `${r.daemon_cpu_pct}%`,
      `${r.attacker_cpu_pct}%`,
      r.daemon_rss_mib,
    ]),
  );
  return [tableHead(head), ...rows].join('\n');
}

if (process.argv[2] === 'attack') {
  // Paused sockets do not keep Node's loop alive: the attacker stays until it is killed.
  setInterval(() => {}, 1 << 30);
  await ATTACKS[process.argv[3] as Attack]({ report: process.argv[4]!, events: process.argv[5]! });
  process.stdout.write('ready\n');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
  console.log(harmTable(await runHarm(Number(values.seconds))));
}
