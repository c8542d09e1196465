// The worker threads: starting them (each joins the ring as a consumer first), placing
// connections on them, replacing one that dies, and stopping them in order. Subscribers go to the
// worker with the fewest subscribers, producers to the one with the fewest producers (of those
// that read producers). Events never pass through here: the workers read them in the ring.
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Worker } from 'node:worker_threads';
import type { Dialect, FromWorker, StatsFormat, ToWorker, WorkerSettings } from '../ipc/messages.js';
import type { CloseReason, WorkerStats } from '../protocol/stats.js';
import type { Logger } from '../log.js';
import type { PeerCred } from '../native/index.js';
import type { EventRing } from '../ring/event-ring.js';
import { handOff } from './hand-off.js';
import { startThread } from './thread.js';

export interface PoolHandlers {
  /** What a worker's producers wrote and refused since it last said (counts for stats). */
  counts(message: Extract<FromWorker, { t: 'counts' }>): void;
  /** A connection's descriptor as its worker will hold it: the daemon watches how close they come to the limit. */
  handedOff(fd: number): void;
  stats(format: StatsFormat): Promise<unknown>;
  /** A subscriber's connection ended ('slow': disconnected for not reading fast enough). */
  closed(reason: CloseReason): void;
}

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
  /** Set when the thread exits: a slot is replaced, never reused. */
  exited: boolean;
  stopping: boolean;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  /** Subscribers and producers are numbered together: an id names one connection. */
  private nextConnectionId = 1;
  /** Open subscriber connections per socket (dialect), for --max-connections. */
  private readonly open = { native: 0, osctld: 0 };

  constructor(
    private readonly size: number,
    private readonly ring: EventRing,
    private readonly settings: Omit<WorkerSettings, 'index' | 'firstSeq' | 'ring'>,
    private readonly log: Logger,
    private readonly handlers: PoolHandlers,
  ) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, (_, index) => this.spawn(index, 0)));
  }

  /** Hands an accepted subscriber connection to the worker with the fewest subscribers. */
  attach(socket: Socket, dialect: Dialect): void {
    const fd = handOff(socket, 'subscriber', this.log, this.handlers.handedOff);
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
    const fd = handOff(socket, 'producer', this.log, this.handlers.handedOff);
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

  /** Shutdown, first step: the workers stop reading producers and answer what they have read. */
  async stopProducers(timeoutMs: number): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.ask(slot, { t: 'stopProducers' }, 'producersStopped', timeoutMs)));
  }

  /** Lets every worker deliver what is published and close its subscribers (at most graceMs), then stops the threads. */
  async shutdown(graceMs: number): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.stopping = true;
        await this.ask(slot, { t: 'shutdown', graceMs }, 'drained', graceMs + 200);
        await slot.worker.terminate();
        this.ring.leave(slot.index);
      }),
    );
  }

  /** Posts `message` and waits for the worker's `answer` (or its exit, or timeoutMs). */
  private ask(slot: Slot, message: ToWorker, answer: FromWorker['t'], timeoutMs: number): Promise<void> | undefined {
    if (slot.exited) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs).unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      slot.worker.on('message', (reply: FromWorker) => reply.t === answer && done());
      slot.worker.once('exit', done);
      this.post(slot, message);
    });
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

  get subscriberCount(): number {
    return this.slots.reduce((sum, slot) => sum + slot.subscribers.size, 0);
  }

  /** Subscriber connections open now that came in on the events (native) or osctld socket. */
  connections(dialect: Dialect): number {
    return this.open[dialect];
  }

  stats(): WorkerStats[] {
    return this.slots.map((slot) => ({
      worker: slot.index,
      subscribers: slot.subscribers.size,
      producers: slot.producers.size,
      restarts: slot.restarts,
      // Bytes of the ring it has yet to read (a worker a whole ring behind holds every writer back).
      pending_bytes: slot.exited ? 0 : (this.ring.head - this.ring.cursorOf(slot.index)) >>> 0,
    }));
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

  private forget(slot: Slot, id: number): void {
    const dialect = slot.subscribers.get(id);
    if (dialect === undefined) return;
    slot.subscribers.delete(id);
    this.open[dialect]--;
  }

  private spawn(index: number, restarts: number): Promise<void> {
    // It reads the ring from where the ring stands now; what was published before it has no subscriber there.
    const firstSeq = this.ring.join(index);
    const worker = startThread('worker/worker', { ...this.settings, index, firstSeq, ring: this.ring.handles } satisfies WorkerSettings);
    const slot: Slot = {
      index,
      worker,
      subscribers: new Map(),
      producers: new Set(),
      unclaimed: new Map(),
      restarts,
      startedAt: Date.now(),
      exited: false,
      stopping: false,
    };
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.t === 'ready') resolve();
        else this.onMessage(slot, message);
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
      case 'counts':
        this.handlers.counts(message);
        return;
      case 'producerClosed':
        slot.unclaimed.delete(message.id);
        slot.producers.delete(message.id);
        return;
      case 'log':
        this.log.child(message.fields)[message.level](message.msg);
        return;
      case 'closed':
        slot.unclaimed.delete(message.id);
        this.forget(slot, message.id);
        this.handlers.closed(message.reason);
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

  /** A worker that dies is replaced; only its own connections were cut (by the kernel). */
  private onExit(slot: Slot, code: number): void {
    slot.exited = true;
    if (slot.stopping) return;
    // It holds no place in the ring any more: writers must not wait for it.
    this.ring.leave(slot.index);
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
    // A worker that dies right after starting would otherwise be restarted in a busy loop.
    const delay = Date.now() - slot.startedAt < 1000 ? 1000 : 0;
    setTimeout(() => {
      this.spawn(slot.index, slot.restarts + 1).catch((error) => {
        this.log.error({ worker: slot.index, err: error }, 'replacement worker failed to start');
      });
    }, delay);
  }
}
