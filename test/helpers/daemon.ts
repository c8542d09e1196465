// Starts the real daemon (the compiled `bin/eventd.js`, as users run it) in a temp directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, rssMiB } from '../../bench/lib.js';
import { LineSplitter } from '../../src/client/lines.js';
import { LineClient } from './client.js';

export const EVENTD_BIN = fileURLToPath(new URL('../../bin/eventd.js', import.meta.url));

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface StartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse a directory (e.g. to restart on the same sockets). */
  dir?: string;
  /** A command that execs the daemon, e.g. ['prlimit', '--nofile=256:256', '--']. */
  wrapper?: string[];
  /** Also serve the osctld-compatible socket (osctldSocket). */
  osctld?: boolean;
  /** Keep a journal (in the daemon's directory, `journal/`); without it, --no-journal. */
  journal?: boolean;
}

export class TestDaemon {
  readonly logs: LogRecord[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  private logWaiters: (() => void)[] = [];
  private control: LineClient | undefined;

  private constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
  ) {
    const splitter = new LineSplitter();
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      for (const line of splitter.push(chunk)) {
        try {
          this.logs.push(JSON.parse(line) as LogRecord);
        } catch {
          this.logs.push({ level: 0, msg: line });
        }
      }
      for (const wake of this.logWaiters.splice(0)) wake();
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const wake of this.logWaiters.splice(0)) wake();
    });
  }

  get reportSocket(): string {
    return join(this.dir, 'report.sock');
  }

  get eventsSocket(): string {
    return join(this.dir, 'events.sock');
  }

  /** The osctld-compatible socket, served when started with `osctld: true`. */
  get osctldSocket(): string {
    return join(this.dir, 'osctld.sock');
  }

  /** The journal's directory, when started with `journal: true`. */
  get journalDir(): string {
    return join(this.dir, 'journal');
  }

  get pid(): number {
    return this.proc.pid!;
  }

  static spawn(options: StartOptions = {}): TestDaemon {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'eventd-test-'));
    const args = [
      EVENTD_BIN,
      'serve',
      '--report-socket',
      join(dir, 'report.sock'),
      '--events-socket',
      join(dir, 'events.sock'),
      '--log-level',
      'debug',
      ...(options.osctld ? ['--osctld-socket', join(dir, 'osctld.sock')] : []),
      // Each daemon its own journal, never /var/lib's or the user's (or none).
      ...(options.journal ? ['--journal', join(dir, 'journal')] : ['--no-journal']),
      // Two workers whatever the machine's cores (the default depends on them: 1 on two cores), so
      // that every test meets the same pool; a test's own --workers comes later and wins.
      '--workers',
      '2',
      ...(options.args ?? []),
    ];
    const [command, ...commandArgs] = [...(options.wrapper ?? []), process.execPath, ...args];
    const proc = spawn(command!, commandArgs, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new TestDaemon(proc, dir);
  }

  static async start(options: StartOptions = {}): Promise<TestDaemon> {
    const daemon = TestDaemon.spawn(options);
    await daemon.waitForLog((record) => record.msg === 'eventd ready');
    return daemon;
  }

  async waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs = 15_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.logs.find(predicate);
      if (found) return found;
      if (exited) throw new Error(`daemon exited before the expected log line; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected log line not seen within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.logWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  producer(): Promise<LineClient> {
    return LineClient.connect(this.reportSocket);
  }

  /** A subscriber, once the daemon has placed it on a worker (so no event can precede it). */
  async subscriber(subscribe?: Record<string, unknown>): Promise<LineClient> {
    const client = await LineClient.connect(this.eventsSocket);
    // A reply to a command proves the worker owns the connection.
    client.sendJson({ cmd: 'event_subscribe', ...(subscribe ? { opts: subscribe } : {}) });
    const reply = await client.nextJson();
    if (reply.status !== true) throw new Error(`subscribe failed: ${JSON.stringify(reply)}`);
    return client;
  }

  /**
   * The daemon's stats, asked on one long-lived connection so that asking does not itself move
   * the subscriber counts (that connection counts as one subscriber).
   */
  async stats(): Promise<Record<string, any>> {
    if (!this.control || this.control.ended) this.control = await LineClient.connect(this.eventsSocket);
    this.control.sendJson({ cmd: 'stats' });
    let reply = await this.control.nextJson<{ status?: boolean; response: Record<string, any> }>();
    // Events come too: a connection is subscribed to everything until it says otherwise.
    while (reply.status === undefined) reply = await this.control.nextJson();
    return reply.response;
  }

  /** Reports lines with acks and waits for every ack; returns the seqs. */
  async report(...reports: Record<string, unknown>[]): Promise<number[]> {
    const producer = await this.producer();
    reports.forEach((report, i) => producer.sendJson({ ...report, ack: i }));
    const acks = await producer.takeJson<{ status: boolean; seq: number }>(reports.length);
    producer.destroy();
    if (acks.some((ack) => ack.status !== true)) throw new Error(`report rejected: ${JSON.stringify(acks)}`);
    return acks.map((ack) => ack.seq);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  /** Open file descriptors of the daemon process (only its sockets, with `socketsOnly`). */
  fdCount({ socketsOnly = false } = {}): number {
    const fds = readdirSync(`/proc/${this.pid}/fd`);
    if (!socketsOnly) return fds.length;
    return fds.filter((fd) => {
      try {
        return readlinkSync(`/proc/${this.pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  }

  rssBytes(): number {
    return rssMiB(this.pid) * 1024 * 1024;
  }

  /** utime + stime of the daemon, in seconds. */
  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  async cleanup(): Promise<void> {
    this.control?.destroy();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sampleReports = {
  management: { type: 'management', opts: { id: 7, cmd: 'ct_start', opts: { id: '101', force: true }, state: 'run' } },
  osctld_shutdown: { type: 'osctld_shutdown', opts: {} },
  state: { type: 'state', opts: { pool: 'tank', id: '101', state: 'running' } },
  db: { type: 'db', opts: { object: 'container', pool: 'tank', id: '101', action: 'add' } },
  ct_scheduled: { type: 'ct_scheduled', opts: { pool: 'tank', id: '101', cpu_package_inuse: 0 } },
  ct_init_pid: { type: 'ct_init_pid', opts: { pool: 'tank', id: '101', init_pid: 4242 } },
  ct_netif: { type: 'ct_netif', opts: { pool: 'tank', id: '101', action: 'rename', name: 'eth0', veth: 'veth101', new_name: 'eth1' } },
  ct_exit: { type: 'ct_exit', opts: { pool: 'tank', id: '101', exit_type: 'reboot' } },
} as const;
