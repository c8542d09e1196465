// The daemon: wires the listening sockets, the store (the shared ring, and the journal behind it),
// the worker pool (which reads producers and writes to subscribers) and the main thread's own
// ingest together, answers stats, and shuts down in order. The main thread reads producers too:
// it is one of the threads producers are spread over, so that with one producer (osctld) the
// workers keep their CPU for subscribers. It never handles another thread's events: every thread
// writes and reads them in the ring.
import net from 'node:net';
import type { Logger } from '../log.js';
import { loadNative, peerCred, socketFd, type PeerCred } from '../native/index.js';
import { DAEMON_SHUTDOWN_OPTS, EVENT_TYPES, type EventType } from '../protocol/event-types.js';
import type { EventOpts } from '../protocol/events.js';
import { ingestThreads, ringBytes, type DaemonConfig } from './config.js';
import { FdLimitWatch } from './fd-limit.js';
import { errorLine, UnpublishableError } from '../protocol/wire.js';
import {
  bindSocket,
  removeSocketFile,
  resolveGroup,
  systemdSockets,
  type BoundSocket,
  type SocketName,
  type SocketSpec,
} from './listeners.js';
import { ProducerConnection } from '../ingest/producer.js';
import { Ingest, JournalUnavailableError } from '../ingest/ingest.js';
import { READ_AHEAD_BYTES } from '../protocol/framing.js';
import { validateReport } from '../protocol/report.js';
import { EventdError, ReportRejectedError } from '../errors.js';
import { WorkerPool } from './worker-pool.js';
import { EVENTD_VERSION } from '../version.js';
import {
  CLOSE_REASONS,
  METRICS_REFUSALS,
  REJECT_REASONS,
  type DaemonStats,
  type MetricsRefusal,
  type RejectReason,
} from '../protocol/stats.js';
import type { StatsFormat } from '../ipc/messages.js';
import { metricsUrl, parseAllowList } from '../metrics/address.js';
import type { MetricsServer } from '../metrics/http.js';
import { cachedText, createMetrics, type Metrics } from '../metrics/registry.js';
import { DAEMON_METRICS } from './metrics.js';
import { PublishedCounts } from './counters.js';
import { journalStore, memoryStore, type EventStore } from '../journal/store.js';
import { DURABLE_SIGNAL } from '../ring/event-ring.js';

/** How long subscribers get to take what is queued for them at shutdown. */
const SHUTDOWN_GRACE_MS = 2500;

export class Daemon {
  private readonly pool: WorkerPool;
  /** The main thread's side of ingest: producers it reads, and the daemon's own events. */
  private readonly ingest: Ingest;
  private readonly published = new PublishedCounts();
  private readonly rejected = zeros(REJECT_REASONS);
  /** Producers the main thread reads itself. */
  private readonly producers = new Map<number, ProducerConnection>();
  private readonly disconnected = zeros(CLOSE_REASONS);
  private subscribersConnected = 0;
  private producersConnected = 0;
  /** Times producers were held back because the ring was full, and for how long in all (every ingest thread). */
  private producersPaused = 0;
  private producersPausedMs = 0;
  private replays = 0;
  private metrics: Promise<Metrics> | undefined;
  private metricsText: (() => Promise<string>) | undefined;
  private metricsServer: MetricsServer | undefined;
  private readonly metricsRefused = zeros(METRICS_REFUSALS);
  private lastMetricsRefusalLog = 0;
  private readonly startedAt = Date.now();
  /** The first seq of this run (the journal carries seq on across runs). */
  private readonly firstSeq: number;
  private bound: BoundSocket[] = [];
  private refused = 0;
  private lastRefusalLog = 0;
  private stopping: Promise<void> | null = null;
  private readonly fdLimit: FdLimitWatch;

  private constructor(
    readonly config: DaemonConfig,
    private readonly log: Logger,
    private readonly store: EventStore,
  ) {
    this.fdLimit = new FdLimitWatch(log);
    this.firstSeq = store.ring.nextSeq;
    this.ingest = new Ingest(
      store.ring,
      {
        written: (counts) => this.published.add(counts),
        backlog: (full) => {
          this.log.debug({ full }, full ? 'the ring is full: pausing producers' : 'room in the ring again: resuming producers');
          for (const producer of this.producers.values()) producer.throttle(full);
        },
      },
      config.maxLineBytes,
    );
    this.pool = new WorkerPool(
      config.workers,
      store.ring,
      {
        maxLineBytes: config.maxLineBytes,
        lineTimeoutMs: config.lineTimeoutMs,
        maxPendingBytes: config.maxPendingBytes,
        logLevel: config.logLevel,
        faultInjection: config.faultInjection,
        version: EVENTD_VERSION,
        run: store.run,
        // The main thread reads producers too: workers 0 … ingestThreads - 2 are the others.
        producerReaders: ingestThreads(config) - 1,
        journalDir: store.journalDir,
        historyEvents: config.history,
      },
      log,
      {
        counts: (message) => {
          this.published.add(message);
          for (const reason of REJECT_REASONS) this.rejected[reason] += message.rejected[reason] ?? 0;
          this.producersPaused += message.paused;
          this.producersPausedMs += message.pausedMs;
          this.replays += message.replays;
        },
        handedOff: (fd) => this.fdLimit.accepted(fd),
        stats: async (format) => this.statsAs(format),
        closed: (reason) => this.disconnected[reason]++,
      },
    );
  }

  static async start(config: DaemonConfig, log: Logger): Promise<Daemon> {
    // A missing helper is a start error (one line), not a crash at the first connection.
    loadNative();
    const size = ringBytes(config);
    const store = config.journal
      ? await journalStore(size, config.journal, log, (error) => {
          // Nothing can be published without it: exit, and let systemd start a daemon that can.
          log.fatal({ err: error }, 'the journal stopped; exiting');
          process.exit(1);
        })
      : memoryStore(size);
    const daemon = new Daemon(config, log, store);
    try {
      await daemon.open();
    } catch (error) {
      await daemon.stop({ announce: false });
      throw error;
    }
    return daemon;
  }

  /** Where each socket is (undefined only for a passed socket without a path), and whether systemd passed it. */
  get sockets(): { name: string; path: string | undefined; activated: boolean }[] {
    return this.bound.map((b) => ({ name: b.name, path: b.path, activated: b.createdPath === undefined }));
  }

  stats(): DaemonStats {
    const ring = this.store.ring;
    const rejected = this.rejected;
    const lastSeq = ring.nextSeq - 1;
    const retained = Math.max(0, lastSeq - Math.max(ring.tailSeq, lastSeq - this.config.history + 1) + 1);
    return {
      run: this.store.run,
      pid: process.pid,
      version: EVENTD_VERSION,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      workers: this.pool.stats(),
      subscribers: this.pool.subscriberCount,
      producers: this.producers.size + this.pool.producerCount,
      events_published: ring.nextSeq - this.firstSeq,
      last_seq: lastSeq,
      events_by_type: Object.fromEntries(
        EVENT_TYPES.map((type, code) => [type, this.published.byType[code]!]),
      ) as DaemonStats['events_by_type'],
      events_by_pool: Object.fromEntries(this.published.byPool),
      lines_rejected: REJECT_REASONS.reduce((sum, reason) => sum + rejected[reason], 0),
      lines_rejected_by_reason: { ...rejected },
      subscribers_connected: this.subscribersConnected,
      subscribers_disconnected: { ...this.disconnected },
      subscribers_dropped_slow: this.disconnected.slow,
      producers_connected: this.producersConnected,
      connections_refused: this.refused,
      producers_paused: this.producersPaused + this.ingest.paused,
      producers_paused_seconds: (this.producersPausedMs + this.ingest.pausedMs) / 1000,
      replays: this.replays,
      metrics_refused: { ...this.metricsRefused },
      history: {
        capacity: this.config.history,
        capacity_bytes: ring.size,
        retained,
        bytes: ring.heldBytes,
        first_seq: lastSeq - retained + 1,
        last_seq: lastSeq,
      },
      journal: this.store.stats() ?? null,
    };
  }

  /** The stats object, or the same figures as Prometheus text. */
  async statsAs(format: StatsFormat): Promise<DaemonStats | string> {
    if (format === 'json') return this.stats();
    // Built at most once a second, however many ask (`metrics` in a loop on many connections).
    this.metricsText ??= cachedText(await this.registry(), 1000);
    return this.metricsText();
  }

  /** The metrics, made (and prom-client loaded) on first use; tried again next time if that failed (e.g. EMFILE). */
  private registry(): Promise<Metrics> {
    this.metrics ??= createMetrics(DAEMON_METRICS, () => this.stats()).catch((error: unknown) => {
      this.metrics = undefined;
      throw error;
    });
    return this.metrics;
  }

  /** The URL --metrics-listen serves, with the port it got (for HOST:0); undefined when off. */
  get metricsUrl(): string | undefined {
    const listen = this.config.metricsListen;
    return listen && this.metricsServer ? metricsUrl(listen, this.metricsServer.server) : undefined;
  }

  /** Publishes an event from inside the process, validated like a report; returns its seq. */
  report<T extends EventType>(type: T, opts: EventOpts<T>): number {
    if (this.stopping) throw new Error('eventd is stopping');
    const report = validateReport({ type, opts });
    if (!report.ok) throw new ReportRejectedError(report.message, report.issues, 'local');
    try {
      return this.ingest.publishNow(report.type, report.opts);
    } catch (error) {
      if (error instanceof UnpublishableError) throw new ReportRejectedError(`Invalid ${type} report: ${error.message}`, [], 'local');
      if (error instanceof JournalUnavailableError) throw new EventdError('EVENTD_UNREACHABLE', error.message);
      throw error;
    }
  }

  /**
   * Stops accepting, answers every report read, announces osctld_shutdown to every subscriber,
   * lets the workers deliver and flush, makes everything durable, and removes the socket files it
   * created. Safe to call more than once.
   */
  stop({ announce = true } = {}): Promise<void> {
    this.stopping ??= (async () => {
      for (const { server } of this.bound) server.close();
      this.metricsServer?.close();
      // Every report read before this is published before the announcement, and answered.
      for (const producer of this.producers.values()) producer.close();
      this.ingest.flush();
      await this.pool.stopProducers(SHUTDOWN_GRACE_MS);
      // Marked as the daemon's own: a producer may report osctld_shutdown too (osctld stopping).
      if (announce) {
        try {
          const seq = this.ingest.publishNow('osctld_shutdown', DAEMON_SHUTDOWN_OPTS as unknown as EventOpts<'osctld_shutdown'>);
          await this.durable(seq, SHUTDOWN_GRACE_MS);
        } catch (error) {
          this.log.error({ err: error }, 'could not announce the shutdown');
        }
      }
      await this.pool.shutdown(SHUTDOWN_GRACE_MS);
      await this.store.stop();
      await Promise.all(this.bound.map(removeSocketFile));
    })();
    return this.stopping;
  }

  /** Resolves once `seq` may be delivered (at once without a journal), or after timeoutMs. */
  private async durable(seq: number, timeoutMs: number): Promise<void> {
    const ring = this.store.ring;
    const deadline = Date.now() + timeoutMs;
    while (ring.gated && ring.durableSeq < seq && Date.now() < deadline) {
      await ring.waitAsync(DURABLE_SIGNAL, ring.signal(DURABLE_SIGNAL), Math.max(1, deadline - Date.now()));
    }
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
          ? // Paused: a producer handed to a worker must not be read here first. Half-open: a
            // producer that ends its side still gets its replies (see READ_AHEAD_BYTES too).
            net.createServer({ pauseOnConnect: true, allowHalfOpen: true, highWaterMark: READ_AHEAD_BYTES }, (socket) => {
              if (this.producers.size + this.pool.producerCount >= config.maxConnections) return this.refuse(socket, spec.name);
              this.onProducer(socket);
            })
          : net.createServer({ pauseOnConnect: true }, (socket) => {
              if (this.pool.connections(dialect) >= config.maxConnections) return this.refuse(socket, spec.name);
              this.watchFds(socket);
              this.subscribersConnected++;
              this.pool.attach(socket, dialect);
            });
      this.bound.push(await bindSocket(server, spec, activated?.get(spec.name)));
      // Accept errors (EMFILE, ENFILE) must not take the daemon down; libuv keeps listening.
      server.on('error', (error) => this.log.error({ socket: spec.name, err: error }, 'accept failed'));
    }
    if (config.metricsListen) {
      // Loaded only here: a daemon without --metrics-listen carries neither HTTP nor prom-client.
      const { serveMetrics } = await import('../metrics/http.js');
      this.metricsServer = await serveMetrics(config.metricsListen, await this.registry(), {
        allow: config.metricsAllow === undefined ? undefined : parseAllowList(config.metricsAllow),
        refused: (why) => this.metricsRefusal(why),
      });
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
    socket.end(
      errorLine(`eventd has ${max} connections on its ${name} socket, the most it takes (--max-connections); try again later`),
      () => socket.destroy(),
    );
  }

  /** A scraper turned away: counted, and logged at most once in 10 s (a flood would fill the log). */
  private metricsRefusal(why: MetricsRefusal): void {
    this.metricsRefused[why]++;
    if (Date.now() - this.lastMetricsRefusalLog < 10_000) return;
    this.lastMetricsRefusalLog = Date.now();
    const reason = {
      connections: 'it has all the connections it takes',
      address: 'the peer is not in --metrics-allow',
      unread: 'the client did not take its answer within 10 s',
    }[why];
    this.log.warn({ refused: { ...this.metricsRefused } }, `metrics connection refused or closed: ${reason}`);
  }

  private watchFds(socket: net.Socket): void {
    this.fdLimit.accepted(socketFd(socket));
  }

  /** Reads a new producer here, or hands it to a worker: whichever thread has the fewest (this one on a tie). */
  private onProducer(socket: net.Socket): void {
    this.watchFds(socket);
    this.producersConnected++;
    const peer = readPeer(socket);
    if (this.producers.size > this.pool.fewestProducers()) {
      this.pool.attachProducer(socket, peer);
      return;
    }
    const id = this.pool.connectionId();
    const context = {
      ingest: this.ingest,
      maxLineBytes: this.config.maxLineBytes,
      lineTimeoutMs: this.config.lineTimeoutMs,
      rejected: (reason: RejectReason) => this.rejected[reason]++,
      log: this.log,
    };
    const producer = new ProducerConnection(id, socket, context, peer, this.ingest.isFull, () => this.producers.delete(id));
    this.producers.set(id, producer);
  }
}

/** Who is on the other end of a connection (for the producer's log lines), if the kernel says. */
function readPeer(socket: net.Socket): PeerCred | undefined {
  try {
    return peerCred(socketFd(socket));
  } catch {
    return undefined;
  }
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}
