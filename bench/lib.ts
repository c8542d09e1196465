// Shared by the benchmarks: start the compiled daemon, connect, read /proc figures.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Target = 'eventd' | 'raw' | 'redis';

export interface BenchDaemon {
  proc: ChildProcess;
  reportSocket: string;
  eventsSocket: string;
  /** Subscribers per worker thread (eventd only), counting the connection that asks. */
  spread(): Promise<number[]>;
  stop(): Promise<void>;
}

/** Connects, retrying while the listen backlog is full (EAGAIN) as it can be with 1000s at once. */
export async function connect(path: string): Promise<net.Socket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(path, () => resolve(socket));
        socket.once('error', reject);
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt === 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

export async function startDaemon(args: string[] = []): Promise<BenchDaemon> {
  // EVENTD_BENCH_BIN runs another build (e.g. an older commit's) under the same load.
  const bin = process.env.EVENTD_BENCH_BIN ?? new URL('../bin/eventd.js', import.meta.url).pathname;
  // EVENTD_BENCH_NODE_ARGS passes node flags, e.g. "--cpu-prof --cpu-prof-dir=prof" to see where time goes.
  const nodeArgs = (process.env.EVENTD_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnServer((reportSocket, eventsSocket) => [
    ...nodeArgs,
    bin,
    'serve',
    '--report-socket',
    reportSocket,
    '--events-socket',
    eventsSocket,
    '--log-level',
    'warn',
    // Memory only unless a bench asks for a journal (--journal DIR in args): never the system's
    // (an older build, for a comparison, has no journal to turn off).
    ...(args.includes('--journal') || !hasJournalOption(bin) ? [] : ['--no-journal']),
    ...args,
  ]);
}

const journalOption = new Map<string, boolean>();

/** Whether a build of eventd knows --no-journal (builds before the journal do not). */
function hasJournalOption(bin: string): boolean {
  if (!journalOption.has(bin)) {
    const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' });
    journalOption.set(bin, help.stdout.includes('--no-journal'));
  }
  return journalOption.get(bin)!;
}

/** eventd with W workers (and `args`), or the raw fan-out server that validates nothing. */
export function startTarget(target: Target, workers: number, args: string[] = []): Promise<BenchDaemon> {
  if (target === 'eventd')
    return startDaemon(['--workers', String(workers), ...args, ...(process.env.EVENTD_BENCH_ARGS ?? '').split(' ').filter(Boolean)]);
  if (target === 'redis') return startRedis();
  const raw = new URL('./raw-server.ts', import.meta.url).pathname;
  return spawnServer((reportSocket, eventsSocket) => ['--import', 'tsx', raw, reportSocket, eventsSocket]);
}

/** Whether Redis can be compared (the bench installs nothing: `apt-get install redis-server`). */
export function redisInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** redis-server on a Unix socket, no persistence: PUBLISH/SUBSCRIBE on one socket. */
async function startRedis(): Promise<BenchDaemon> {
  return spawnServer((socket) => ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'], {
    command: 'redis-server',
    oneSocket: true,
  });
}

async function spawnServer(
  argv: (reportSocket: string, eventsSocket: string) => string[],
  { command = process.execPath, oneSocket = false } = {},
): Promise<BenchDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-bench-'));
  const reportSocket = join(dir, 'r.sock');
  const eventsSocket = oneSocket ? reportSocket : join(dir, 'e.sock');
  // EVENTD_BENCH_DAEMON_LOG=FILE keeps the server's stdout (logs, --trace-gc) in FILE.
  const logFile = process.env.EVENTD_BENCH_DAEMON_LOG;
  const stdout = logFile ? openSync(logFile, 'a') : 'ignore';
  // EVENTD_BENCH_SERVER_CPUS=0,1 runs the server on those CPUs (taskset), whatever the generator's.
  const cpus = process.env.EVENTD_BENCH_SERVER_CPUS;
  const [file, args] = cpus
    ? ['taskset', ['-c', cpus, command, ...argv(reportSocket, eventsSocket)]]
    : [command, argv(reportSocket, eventsSocket)];
  const proc = spawn(file, args, { stdio: ['ignore', stdout, 'inherit'] });
  if (typeof stdout === 'number') closeSync(stdout);
  for (let i = 0; ; i++) {
    try {
      (await connect(eventsSocket)).destroy();
      (await connect(reportSocket)).destroy();
      break;
    } catch (error) {
      if (i === 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    proc,
    reportSocket,
    eventsSocket,
    spread: async () => ((await stats(eventsSocket)).workers as { subscribers: number }[]).map((w) => w.subscribers),
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * CPU seconds of each of a process's threads, by what eventd names them (nameThread): eventd (the
 * main thread), eventd-w0 …, eventd-journal; every other thread (V8's, libuv's) as "other".
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const name = comm.startsWith('eventd') ? comm : 'other';
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Seconds a process's main thread has spent ready to run but waiting for a CPU (the second field
 * of /proc/PID/schedstat): time another thread had the core it wanted.
 */
export function runQueueSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
}

/** The machine's idle and total CPU ticks so far (/proc/stat): their deltas give its idle share over a span. */
export function machineTicks(): { idle: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // idle and iowait: time no thread wanted a core.
  return { idle: ticks[3]! + ticks[4]!, total: ticks.reduce((sum, n) => sum + n, 0) };
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

export function rssMiB(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

/** The process's peak resident set (VmHWM). */
export function peakRssMiB(pid: number): number {
  return Number(statusMiB(pid, 'VmHWM').toFixed(1));
}

/** Asks for stats on a connection of its own. */
export async function stats(eventsSocket: string): Promise<Record<string, any>> {
  const socket = await connect(eventsSocket);
  socket.end('{"cmd":"stats"}\n');
  let text = '';
  for await (const chunk of socket) text += chunk;
  return JSON.parse(text.split('\n').find((line) => line.includes('"events_published"'))!).response;
}

export const MIX = [
  { type: 'state', opts: { pool: 'tank', id: '101', state: 'running' } },
  { type: 'db', opts: { object: 'container', pool: 'tank', id: '102', action: 'add' } },
  { type: 'ct_netif', opts: { pool: 'tank', id: '103', action: 'up', name: 'eth0', veth: 'veth103i0' } },
  { type: 'ct_init_pid', opts: { pool: 'tank', id: '104', init_pid: 31337 } },
  { type: 'management', opts: { id: 7, cmd: 'ct_start', opts: { id: '105', wait: true }, state: 'done' } },
  { type: 'ct_exit', opts: { pool: 'tank', id: '106', exit_type: 'reboot' } },
];

/** A Markdown table's header and separator lines; rows follow with tableRow, as results come. */
export function tableHead(columns: readonly string[]): string {
  return `${tableRow(columns)}\n${tableRow(columns.map(() => '---'))}`;
}

export function tableRow(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}
