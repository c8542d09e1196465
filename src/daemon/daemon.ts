// The daemon: wires the listening sockets, the store (the shared ring, and the journal behind it),
// the worker pool (which reads producers and writes to subscribers) and the main thread's own
// ingest together, answers stats, and shuts down in order. With one ingest thread the main thread
// reads the producers, so that with one producer (osctld) the workers keep their CPU for
// subscribers; with more, workers read them and the main thread only hands connections over
// (config.ts, ingestLayout). It never handles another thread's events: every thread writes and
// reads them in the ring.
import type net from 'node:net';
import { EventdError, ReportRejectedError } from '../errors.js';
import { Ingest, JournalUnavailableError } from '../ingest/ingest.js';
import { ProducerConnection } from '../ingest/producer.js';
import type { StatsFormat } from '../ipc/messages.js';
import { journalStore, memoryStore, type EventStore } from '../journal/store.js';
import { rateLimited, type Logger } from '../log.js';
import { loadNative, peerCred, socketFd, type PeerCred } from '../native/index.js';
import { DAEMON_SHUTDOWN_OPTS, type EventType } from '../protocol/event-types.js';
import type { EventOpts } from '../protocol/events.js';
import type { DaemonStats, RejectReason } from '../protocol/stats.js';
import { UnpublishableError } from '../protocol/wire.js';
import { DURABLE_SIGNAL } from '../ring/event-ring.js';
import { EVENTD_VERSION } from '../version.js';
import { ingestLayout, ringBytes, type DaemonConfig } from './config.js';
import { DaemonCounters } from './counters.js';
import { daemonStats } from './daemon-stats.js';
import { FdLimitWatch } from './fd-limit.js';
import { removeSocketFile, type BoundSocket, type SocketName } from './listeners.js';
import { MetricsEndpoint } from './metrics-endpoint.js';
import { openServers, passedSockets } from './servers.js';
import { WorkerPool } from './worker-pool.js';

/** How long subscribers get to take what is queued for them at shutdown. */
const SHUTDOWN_GRACE_MS = 2500;

export class Daemon {
  private readonly pool: WorkerPool;
  /** The main thread's side of ingest: producers it reads, and the daemon's own events. */
  private readonly ingest: Ingest;
  private readonly counters = new DaemonCounters();
  /** Producers the main thread reads itself. */
  private readonly producers = new Map<number, ProducerConnection>();
  private readonly metrics: MetricsEndpoint;
  private readonly startedAt = Date.now();
  /** The first seq of this run (the journal carries seq on across runs). */
  private readonly firstSeq: number;
  private bound: BoundSocket[] = [];
  private readonly logRefusalNow = rateLimited(10_000);
  private stopping: Promise<void> | null = null;
  private readonly fdLimit: FdLimitWatch;

  private constructor(
    readonly config: DaemonConfig,
    private readonly log: Logger,
    private readonly store: EventStore,
  ) {
    this.fdLimit = new FdLimitWatch(log);
    this.firstSeq = store.ring.nextSeq;
    this.metrics = new MetricsEndpoint(() => this.stats(), this.counters.metricsRefused, log);
    this.ingest = new Ingest(
      store.ring,
      {
        written: (counts) => this.counters.published(counts),
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
        producerReaders: ingestLayout(config).workers,
        journalDir: store.journalDir,
        historyEvents: config.history,
      },
      log,
      {
        counts: (message) => this.counters.fromWorker(message),
        handedOff: (fd) => this.fdLimit.accepted(fd),
        stats: async (format) => this.statsAs(format),
        closed: (reason) => this.counters.disconnected[reason]++,
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
    return daemonStats({
      run: this.store.run,
      startedAt: this.startedAt,
      firstSeq: this.firstSeq,
      historyEvents: this.config.history,
      ring: this.store.ring,
      counters: this.counters,
      pool: this.pool,
      producersHere: this.producers.size,
      ingestHere: this.ingest,
      journal: this.store.stats() ?? null,
    });
  }

  /** The stats object, or the same figures as Prometheus text. */
  async statsAs(format: StatsFormat): Promise<DaemonStats | string> {
    return format === 'json' ? this.stats() : this.metrics.text();
  }

  /** The URL --metrics-listen serves, with the port it got (for HOST:0); undefined when off. */
  get metricsUrl(): string | undefined {
    return this.metrics.url(this.config.metricsListen);
  }

  /**
   * Publishes an event from inside the process (the library's report(), which validates it first:
   * server.ts); returns its seq.
   */
  publish<T extends EventType>(type: T, opts: EventOpts<T>): number {
    if (this.stopping) throw new Error('eventd is stopping');
    try {
      return this.ingest.publishNow(type, opts);
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
      this.metrics.close();
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
    const activated = passedSockets();
    await this.pool.start();
    this.bound = await openServers(
      config,
      activated,
      {
        full: (name) =>
          (name === 'report'
            ? this.producers.size + this.pool.producerCount
            : this.pool.connections(name === 'osctld' ? 'osctld' : 'native')) >= config.maxConnections,
        producer: (socket) => this.onProducer(socket),
        subscriber: (socket, dialect) => {
          this.watchFds(socket);
          this.counters.subscribersConnected++;
          this.pool.attach(socket, dialect);
        },
        refused: (name) => this.refused(name),
      },
      this.log,
    );
    // A daemon without --metrics-listen carries neither HTTP nor prom-client.
    if (config.metricsListen) await this.metrics.listen(config.metricsListen, config.metricsAllow);
  }

  /** A connection turned away at --max-connections: counted, and logged at most once in 10 s. */
  private refused(name: SocketName): void {
    this.counters.refused++;
    if (!this.logRefusalNow()) return;
    this.log.warn(
      { socket: name, max_connections: this.config.maxConnections },
      'connection refused: the socket has all the connections it takes',
    );
  }

  private watchFds(socket: net.Socket): void {
    this.fdLimit.accepted(socketFd(socket));
  }

  /** Reads a new producer here, or hands it to a worker: whichever ingest thread has the fewest (this one on a tie). */
  private onProducer(socket: net.Socket): void {
    this.watchFds(socket);
    this.counters.producersConnected++;
    const peer = readPeer(socket);
    if (!ingestLayout(this.config).mainThread || this.producers.size > this.pool.fewestProducers()) {
      this.pool.attachProducer(socket, peer);
      return;
    }
    const id = this.pool.connectionId();
    const context = {
      ingest: this.ingest,
      maxLineBytes: this.config.maxLineBytes,
      lineTimeoutMs: this.config.lineTimeoutMs,
      rejected: (reason: RejectReason) => this.counters.rejected[reason]++,
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
