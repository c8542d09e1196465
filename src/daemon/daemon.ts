// The daemon: wires the listening sockets, the producers, the publisher, the history and the
// worker pool together, answers stats, and shuts down in order.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { Logger } from '../log.js';
import { socketFd } from '../native/index.js';
import type { EventOpts, EventType } from '../protocol/events.js';
import { ReportRejectedError, validateReport } from '../protocol/report.js';
import type { DaemonConfig } from './config.js';
import { FdLimitWatch } from './fd-limit.js';
import { EventHistory } from './history.js';
import { errorLine } from '../protocol/wire.js';
import { bindSocket, removeSocketFile, resolveGroup, systemdSockets, type BoundSocket, type SocketName, type SocketSpec } from './listeners.js';
import { ProducerConnection, type ProducerCounters } from './producer.js';
import { Publisher, UnpublishableError } from './publisher.js';
import { WorkerPool, type WorkerStats } from './worker-pool.js';
import { EVENTD_VERSION } from '../version.js';

/** A `since` replay goes to its subscriber in chunks of about this size, each once the last has been taken. */
const REPLAY_CHUNK_BYTES = 64 * 1024;

/**
 * What Node reads ahead from a paused connection. Its default (16 KiB) is counted in bytes, so a
 * client sending one byte per write kept being read a byte at a time while paused; with this a
 * paused connection is left in the kernel after one chunk. It does not slow a flowing one.
 */
const READ_AHEAD_BYTES = 1;

/** How long subscribers get to take what is queued for them at shutdown. */
const SHUTDOWN_GRACE_MS = 2500;

export interface DaemonStats {
  /** Random per daemon start: seq restarts at 1 when it changes. */
  run: string;
  pid: number;
  uptime_seconds: number;
  workers: WorkerStats[];
  subscribers: number;
  producers: number;
  events_published: number;
  lines_rejected: number;
  subscribers_dropped_slow: number;
  /** Connections turned away because their socket had --max-connections already. */
  connections_refused: number;
  /** How often producers were paused because a worker fell behind (flow control). */
  producers_paused: number;
  history: { capacity: number; capacity_bytes: number; retained: number; bytes: number; first_seq: number; last_seq: number };
}

export class Daemon {
  private readonly history: EventHistory;
  private readonly publisher: Publisher;
  private readonly pool: WorkerPool;
  private readonly producers = new Map<number, ProducerConnection>();
  private readonly counters: ProducerCounters = { linesRejected: 0 };
  private readonly startedAt = Date.now();
  private readonly run = randomUUID();
  private bound: BoundSocket[] = [];
  private nextProducerId = 1;
  private droppedSlow = 0;
  private refused = 0;
  private lastRefusalLog = 0;
  private producersPaused = 0;
  private stopping: Promise<void> | null = null;
  private readonly fdLimit: FdLimitWatch;

  private constructor(
    readonly config: DaemonConfig,
    private readonly log: Logger,
  ) {
    this.history = new EventHistory(config.history, config.historyBytes);
    this.fdLimit = new FdLimitWatch(log);
    this.pool = new WorkerPool(
      config.workers,
      {
        maxLineBytes: config.maxLineBytes,
        lineTimeoutMs: config.lineTimeoutMs,
        maxPendingBytes: config.maxPendingBytes,
        logLevel: config.logLevel,
        faultInjection: config.faultInjection,
        version: EVENTD_VERSION,
      },
      log,
      {
        replay: (since) => ({ ...this.history.after(since, REPLAY_CHUNK_BYTES), lastSeq: this.history.lastSeq }),
        stats: () => this.stats(),
        droppedSlow: () => this.droppedSlow++,
        backlog: (full) => {
          if (full) this.producersPaused++;
          this.log.debug({ full }, full ? 'workers behind: pausing producers' : 'workers caught up: resuming producers');
          for (const producer of this.producers.values()) producer.throttle(full);
        },
      },
    );
    this.publisher = new Publisher(this.history, (batch) => this.pool.broadcast(batch), config.maxLineBytes);
  }

  static async start(config: DaemonConfig, log: Logger): Promise<Daemon> {
    const daemon = new Daemon(config, log);
    try {
      await daemon.open();
    } catch (error) {
      await daemon.stop({ announce: false });
      throw error;
    }
    return daemon;
  }

  /** Where each socket is: the path we created, or undefined for one systemd passed. */
  get sockets(): { name: string; path: string | undefined }[] {
    return this.bound.map((b) => ({ name: b.name, path: b.createdPath }));
  }

  stats(): DaemonStats {
    return {
      run: this.run,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      workers: this.pool.stats(),
      subscribers: this.pool.subscriberCount,
      producers: this.producers.size,
      events_published: this.publisher.lastSeq,
      lines_rejected: this.counters.linesRejected,
      subscribers_dropped_slow: this.droppedSlow,
      connections_refused: this.refused,
      producers_paused: this.producersPaused,
      history: {
        capacity: this.history.capacity,
        capacity_bytes: this.history.capacityBytes,
        retained: this.history.size,
        bytes: this.history.bytes,
        first_seq: this.history.firstSeq,
        last_seq: this.history.lastSeq,
      },
    };
  }

  /** Publishes an event from inside the process, validated like a report; returns its seq. */
  report<T extends EventType>(type: T, opts: EventOpts<T>): number {
    if (this.stopping) throw new Error('eventd is stopping');
    const report = validateReport({ type, opts });
    if (!report.ok) throw new ReportRejectedError(report.message, report.issues, 'local');
    try {
      return this.publisher.publish(report.type, report.opts);
    } catch (error) {
      if (error instanceof UnpublishableError) throw new ReportRejectedError(`Invalid ${type} report: ${error.message}`, [], 'local');
      throw error;
    }
  }

  /**
   * Stops accepting, announces osctld_shutdown to every subscriber, lets the workers flush,
   * and removes the socket files it created. Safe to call more than once.
   */
  stop({ announce = true } = {}): Promise<void> {
    this.stopping ??= (async () => {
      for (const { server } of this.bound) server.close();
      for (const producer of this.producers.values()) producer.close();
      if (announce) this.publisher.publish('osctld_shutdown', {});
      this.publisher.flush();
      await this.pool.shutdown(SHUTDOWN_GRACE_MS);
      await Promise.all(this.bound.map(removeSocketFile));
    })();
    return this.stopping;
  }

  private async open(): Promise<void> {
    const { config } = this;
    const gid = config.socketGroup === undefined ? undefined : resolveGroup(config.socketGroup);
    const activated = systemdSockets();
    if (activated && !activated.has('report') && !activated.has('events')) {
      const names = [...activated.keys()].join(', ');
      throw new Error(`systemd passed sockets named ${names}; expected "report" and "events" (FileDescriptorName=)`);
    }
    await this.pool.start();
    const specs: SocketSpec[] = [
      { name: 'report', path: config.reportSocket, mode: config.reportMode, gid },
      { name: 'events', path: config.eventsSocket, mode: config.eventsMode, gid },
    ];
    // Off by default: on when asked for, or when systemd passes a socket named "osctld".
    const osctldPath = config.osctldSocket ?? (activated?.has('osctld') ? '' : undefined);
    if (osctldPath !== undefined) specs.push({ name: 'osctld', path: osctldPath, mode: config.osctldMode, gid });
    for (const spec of specs) {
      const dialect = spec.name === 'osctld' ? 'osctld' : 'native';
      const server =
        spec.name === 'report'
          ? net.createServer({ allowHalfOpen: true, highWaterMark: READ_AHEAD_BYTES }, (socket) => {
              if (this.producers.size >= config.maxConnections) return this.refuse(socket, spec.name);
              this.onProducer(socket);
            })
          : net.createServer({ pauseOnConnect: true }, (socket) => {
              if (this.pool.connections(dialect) >= config.maxConnections) return this.refuse(socket, spec.name);
              this.watchFds(socket);
              this.pool.attach(socket, dialect);
            });
      this.bound.push(await bindSocket(server, spec, activated?.get(spec.name)));
      // Accept errors (EMFILE, ENFILE) must not take the daemon down; libuv keeps listening.
      server.on('error', (error) => this.log.error({ socket: spec.name, err: error }, 'accept failed'));
    }
  }

  /** Turns a connection away with one error line: the socket already has all it takes. */
  private refuse(socket: net.Socket, name: SocketName): void {
    this.refused++;
    const max = this.config.maxConnections;
    if (Date.now() - this.lastRefusalLog > 10_000) {
      this.lastRefusalLog = Date.now();
      this.log.warn({ socket: name, max_connections: max }, 'connection refused: the socket has all the connections it takes');
    }
    socket.on('error', () => {});
    socket.end(errorLine(`eventd has ${max} connections on its ${name} socket, the most it takes (--max-connections); try again later`), () => socket.destroy());
  }

  private watchFds(socket: net.Socket): void {
    this.fdLimit.accepted(socketFd(socket));
  }

  private onProducer(socket: net.Socket): void {
    this.watchFds(socket);
    const id = this.nextProducerId++;
    const producer = new ProducerConnection(
      id,
      socket,
      { publisher: this.publisher, maxLineBytes: this.config.maxLineBytes, lineTimeoutMs: this.config.lineTimeoutMs, counters: this.counters, log: this.log },
      this.pool.throttled,
    );
    this.producers.set(id, producer);
    socket.on('close', () => this.producers.delete(id));
  }
}
