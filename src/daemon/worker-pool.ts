// The worker threads and the placement of connections on them. A connected socket cannot move
// between threads, so the main thread accepts, hands a dup(2) of the connection's descriptor to
// the least-loaded worker and closes its own copy; the worker opens the copy as a net.Socket.
// Subscribers go to the worker with the fewest subscribers, producers to the one with the fewest
// producers: the workers read and validate reports in parallel, and the main thread only sequences.
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { EventBatch } from '../ipc/batch.js';
import { createFlowCounters } from '../ipc/flow.js';
import type { CloseReason, Dialect, FromWorker, StatsFormat, ToWorker, WorkerSettings } from '../ipc/messages.js';
import type { RejectReason, WorkerStats } from '../protocol/stats.js';
import type { Logger } from '../log.js';
import { dupCloexec, socketFd, type PeerCred } from '../native/index.js';
import { WorkerFeed } from './worker-feed.js';

export interface PoolHandlers {
  /** A worker's batch of validated reports: publish them, then call `sequenced` with the first one's seq. */
  reports(reports: EventBatch, pools: [string, number][], sequenced: (firstSeq: number) => void): void;
  /** A connection's descriptor as its worker will hold it: the daemon watches how close they come to the limit. */
  handedOff(fd: number): void;
  /** Lines the workers' producers sent that were refused. */
  rejected(counts: Partial<Record<RejectReason, number>>): void;
  /** first: a new `since` subscription, not the next chunk of one. */
  replay(since: number, first: boolean): { batch: EventBatch; lastSeq: number; missed: number };
  stats(format: StatsFormat): Promise<unknown>;
  /** A subscriber's connection ended ('slow': disconnected for not reading fast enough). */
  closed(reason: CloseReason): void;
  /** A worker fell behind by more than BACKLOG_HIGH (true) or caught up again (false). */
  backlog(full: boolean): void;
}

/**
 * Backpressure: past BACKLOG_HIGH bytes waiting for one worker (see WorkerFeed) the producers are
 * paused (the daemon is overloaded; their kernel buffers push back), and resumed below
 * BACKLOG_LOW, so memory stays bounded however fast producers write. Slow subscribers do not count
 * here: a worker never waits for one (its queue is bounded by --max-pending-bytes).
 */
const BACKLOG_HIGH = 8 * 1024 * 1024;
const BACKLOG_LOW = BACKLOG_HIGH / 4;

interface Slot {
  index: number;
  worker: Worker;
  /** Subscribers placed on this worker and not yet reported closed, with the socket they came from. */
  subscribers: Map<number, Dialect>;
  /** Producer connections placed on this worker and not yet reported closed. */
  producers: Set<number>;
  /** Descriptors posted to the worker that it has not taken yet: closed here if it dies first. */
  unclaimed: Map<number, number>;
  restarts: number;
  startedAt: number;
  feed: WorkerFeed;
  /** Set when the thread exits: a slot is replaced, never reused. */
  exited: boolean;
  stopping: boolean;
}

// Under tsx (`npm run dev`) the sources run as .ts; compiled, as .js.
const RUNNING_TS = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`../worker/worker${RUNNING_TS ? '.ts' : '.js'}`, import.meta.url);

function createWorker(workerData: WorkerSettings): Worker {
  if (!RUNNING_TS) return new Worker(WORKER_URL, { workerData });
  // On Node 20 a worker does not inherit tsx's loader: register it there before the entry.
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  /** Subscribers and producers are numbered together: an id names one connection. */
  private nextConnectionId = 1;
  private lastHandOffError = 0;
  /** Open subscriber connections per socket (dialect), for --max-connections. */
  private readonly open = { native: 0, osctld: 0 };
  private backlogFull = false;

  constructor(
    private readonly size: number,
    private readonly settings: Omit<WorkerSettings, 'index' | 'flow'>,
    private readonly log: Logger,
    private readonly handlers: PoolHandlers,
  ) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, (_, index) => this.spawn(index, 0)));
  }

  /** Hands an accepted subscriber connection to the worker with the fewest subscribers. */
  attach(socket: Socket, dialect: Dialect): void {
    const fd = this.handOff(socket, 'subscriber');
    if (fd === undefined) return;
    const slot = this.leastLoaded((slot) => slot.subscribers.size);
    if (!slot) {
      this.log.error('no worker thread is running; refusing subscriber');
      closeSync(fd);
      return;
    }
    const id = this.connectionId();
    slot.subscribers.set(id, dialect);
    this.open[dialect]++;
    slot.unclaimed.set(id, fd);
    this.post(slot, { t: 'attach', id, fd, dialect });
  }

  /** Hands an accepted producer connection to the worker, of those that read producers, with the fewest. */
  attachProducer(socket: Socket, peer: PeerCred | undefined): number | undefined {
    const fd = this.handOff(socket, 'producer');
    if (fd === undefined) return undefined;
    const slot = this.leastLoaded((slot) => slot.producers.size, this.settings.producerReaders);
    if (!slot) {
      this.log.error('no worker thread is running; refusing producer');
      closeSync(fd);
      return undefined;
    }
    const id = this.connectionId();
    slot.producers.add(id);
    slot.unclaimed.set(id, fd);
    this.post(slot, { t: 'producer', id, fd, peer });
    return id;
  }

  /** A duplicate of the connection's descriptor for a worker; the main thread's own copy is closed. */
  private handOff(socket: Socket, kind: string): number | undefined {
    let fd: number;
    try {
      fd = dupCloexec(socketFd(socket));
    } catch (error) {
      // Out of descriptors, this would come with every connection: once in 10 s is enough.
      if (Date.now() - this.lastHandOffError > 10_000) {
        this.lastHandOffError = Date.now();
        this.log.error({ err: error }, `cannot hand ${kind} connection to a worker`);
      }
      socket.destroy();
      return undefined;
    }
    socket.destroy();
    this.handlers.handedOff(fd);
    return fd;
  }

  /** Shutdown, first step: the workers stop reading producers and send on what they have read. */
  async stopProducers(timeoutMs: number): Promise<void> {
    await Promise.all(
      this.slots.map((slot) => {
        if (slot.exited) return undefined;
        const stopped = new Promise<void>((resolve) => {
          slot.worker.on('message', (message: FromWorker) => message.t === 'producersStopped' && resolve());
          slot.worker.once('exit', () => resolve());
          setTimeout(resolve, timeoutMs).unref();
        });
        this.post(slot, { t: 'stopProducers' });
        return stopped;
      }),
    );
  }

  /** Producers on the live worker, of those that read producers, with the fewest (Infinity when there is none). */
  fewestProducers(): number {
    const slot = this.leastLoaded((slot) => slot.producers.size, this.settings.producerReaders);
    return slot ? slot.producers.size : Number.POSITIVE_INFINITY;
  }

  /** A new connection id (subscribers and producers, in workers or on the main thread, are numbered together). */
  connectionId(): number {
    return this.nextConnectionId++;
  }

  get producerCount(): number {
    return this.slots.reduce((sum, slot) => sum + slot.producers.size, 0);
  }

  broadcast(batch: EventBatch): void {
    for (const slot of this.slots) if (!slot.exited && slot.subscribers.size > 0) slot.feed.push(batch);
    this.checkBacklog();
  }

  private checkBacklog(): void {
    let worst = 0;
    for (const slot of this.slots) if (!slot.exited) worst = Math.max(worst, slot.feed.waitingBytes);
    const full = this.backlogFull ? worst > BACKLOG_LOW : worst > BACKLOG_HIGH;
    if (full === this.backlogFull) return;
    this.backlogFull = full;
    // The workers pause (or resume) the producers they read; the handler, the main thread's own.
    for (const slot of this.slots) if (!slot.exited) this.post(slot, { t: 'throttle', on: full });
    this.handlers.backlog(full);
  }

  /** Whether producers are paused because a worker is behind. */
  get throttled(): boolean {
    return this.backlogFull;
  }

  stats(): WorkerStats[] {
    return this.slots.map((slot) => ({
      worker: slot.index,
      subscribers: slot.subscribers.size,
      producers: slot.producers.size,
      restarts: slot.restarts,
      pending_bytes: slot.exited ? 0 : slot.feed.waitingBytes,
    }));
  }

  /** Subscriber connections open now that came in on the events (native) or osctld socket. */
  connections(dialect: Dialect): number {
    return this.open[dialect];
  }

  private forget(slot: Slot, id: number): void {
    const dialect = slot.subscribers.get(id);
    if (dialect === undefined) return;
    slot.subscribers.delete(id);
    this.open[dialect]--;
  }

  get subscriberCount(): number {
    return this.slots.reduce((sum, slot) => sum + slot.subscribers.size, 0);
  }

  /** Lets every worker flush and close its subscribers (at most graceMs), then stops the threads. */
  async shutdown(graceMs: number): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.stopping = true;
        // Everything published goes out before the shutdown message.
        slot.feed.sendAll();
        const drained = new Promise<void>((resolve) => {
          slot.worker.on('message', (message: FromWorker) => message.t === 'drained' && resolve());
          slot.worker.once('exit', () => resolve());
        });
        this.post(slot, { t: 'shutdown', graceMs });
        // Unref'd: a daemon in someone's process (EventdServer) must not hold it open after shutdown.
        await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs + 200).unref())]);
        await slot.worker.terminate();
      }),
    );
  }

  private leastLoaded(load: (slot: Slot) => number, among = this.slots.length): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots.slice(0, among)) {
      if (!slot.exited && (best === undefined || load(slot) < load(best))) best = slot;
    }
    return best;
  }

  private post(slot: Slot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }

  private spawn(index: number, restarts: number): Promise<void> {
    const flow = createFlowCounters();
    const worker = createWorker({ ...this.settings, index, flow });
    const slot: Slot = {
      index,
      worker,
      subscribers: new Map(),
      producers: new Set(),
      unclaimed: new Map(),
      feed: new WorkerFeed(flow, (batch) => this.post(slot, { t: 'events', batch })),
      restarts,
      startedAt: Date.now(),
      exited: false,
      stopping: false,
    };
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.t === 'ready') {
          // A replacement starts paused if producers are.
          if (this.backlogFull) this.post(slot, { t: 'throttle', on: true });
          resolve();
        } else this.onMessage(slot, message);
      });
      worker.on('error', (error) => {
        this.log.error({ worker: index, err: error }, 'worker thread failed');
        reject(error);
      });
      worker.on('exit', (code) => this.onExit(slot, code));
    });
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    switch (message.t) {
      case 'attached':
        slot.unclaimed.delete(message.id);
        return;
      case 'reports':
        this.handlers.reports(message.reports, message.pools, (firstSeq) => !slot.exited && this.post(slot, { t: 'sequenced', firstSeq }));
        return;
      case 'rejected':
        this.handlers.rejected(message.counts);
        return;
      case 'producerClosed':
        slot.unclaimed.delete(message.id);
        slot.producers.delete(message.id);
        return;
      case 'log':
        this.log.child(message.fields)[message.level](message.msg);
        return;
      case 'delivered':
        slot.feed.delivered();
        this.checkBacklog();
        return;
      case 'closed':
        slot.unclaimed.delete(message.id);
        this.forget(slot, message.id);
        this.handlers.closed(message.reason);
        return;
      case 'replay':
        this.post(slot, { t: 'replay', subscriber: message.subscriber, ...this.handlers.replay(message.since, message.first) });
        return;
      case 'stats':
        this.handlers.stats(message.format).then(
          (stats) => !slot.exited && this.post(slot, { t: 'stats', subscriber: message.subscriber, stats }),
          (error: unknown) => {
            this.log.error({ err: error }, 'stats failed');
            if (!slot.exited) this.post(slot, { t: 'stats', subscriber: message.subscriber, stats: null, error: (error as Error).message });
          },
        );
        return;
    }
  }

  /** A worker that dies is replaced; only its own subscribers were disconnected (by the kernel). */
  private onExit(slot: Slot, code: number): void {
    slot.exited = true;
    if (slot.stopping) return;
    for (const fd of slot.unclaimed.values()) closeSync(fd);
    this.log.error(
      { worker: slot.index, exitCode: code, subscribersLost: slot.subscribers.size, producersLost: slot.producers.size },
      'worker thread exited unexpectedly; starting a new one',
    );
    slot.producers.clear();
    for (const id of [...slot.subscribers.keys()]) {
      this.forget(slot, id);
      this.handlers.closed('error');
    }
    slot.feed.drop();
    this.checkBacklog();
    // A worker that dies right after starting would otherwise be restarted in a busy loop.
    const delay = Date.now() - slot.startedAt < 1000 ? 1000 : 0;
    setTimeout(() => {
      this.spawn(slot.index, slot.restarts + 1).catch((error) => {
        this.log.error({ worker: slot.index, err: error }, 'replacement worker failed to start');
      });
    }, delay);
  }
}
