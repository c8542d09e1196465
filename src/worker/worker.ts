// A worker thread: owns a slice of the subscriber connections and streams events to them as it
// reads them in the shared ring, and a slice of the producer connections, whose reports it
// validates and writes into the ring itself. The main thread never reads or writes connection data,
// and never handles an event on its way.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchView } from '../ipc/batch.js';
import type { CloseReason, Dialect, FromWorker, ToWorker, WorkerSettings } from '../ipc/messages.js';
import { nameThread, type PeerCred } from '../native/index.js';
import type { RejectReason } from '../protocol/stats.js';
import { READ_AHEAD_BYTES } from '../protocol/framing.js';
import type { ProducerConnection } from '../ingest/producer.js';
import { EventRing } from '../ring/event-ring.js';
import { copyRecord, RingConsumer } from '../ring/reader.js';
import { WorkerHistory } from './history.js';
import { WorkerLogger } from './log.js';
import { RecordDelivery } from './delivery.js';
import { RecordMemory } from './record-memory.js';
import { Subscriber, type SubscriberHost } from './subscriber.js';

const settings = workerData as WorkerSettings;
nameThread(`eventd-w${settings.index}`);
/**
 * Only a worker that reads producers loads their code and the ring's writer (ingest/ingest.ts,
 * below); the report schemas (zod: about 10 MiB of a thread's memory) come later still, with the
 * first report the fast path does not take (ingest/full-check.ts). Every worker checks
 * subscribers' commands without zod (protocol/command-check.ts). Likewise the journal's reader is
 * loaded only with a journal. Loaded at start rather than with the first producer: Node never
 * retries a failed import() (EMFILE).
 */
const producerModule = settings.index < settings.producerReaders ? await import('../ingest/producer.js') : undefined;
/**
 * The command schemas (zod), loaded by the first command line that the zod-free check refuses,
 * to say why: working that out here rather than on the main thread keeps a client that floods
 * bad commands off the threads other connections need. Should loading fail (EMFILE), Node never
 * retries it: such commands are then refused without the details.
 */
let commandSchemas: Promise<typeof import('../protocol/parse-command.js')> | undefined;
const port = parentPort!;
const log = new WorkerLogger(settings.logLevel, { worker: settings.index }, (message) => port.postMessage(message));
const ring = EventRing.attach(settings.ring);
const consumer = new RingConsumer(ring, settings.index);
const history = new WorkerHistory(
  ring,
  settings.journalDir ? new (await import('../journal/reader.js')).JournalReader(settings.journalDir) : undefined,
  settings.historyEvents,
);
const subscribers = new Map<number, Subscriber>();
const producers = new Map<number, ProducerConnection>();
/** seq of the last event this worker has read in the ring (delivered to whoever wanted it). */
let deliveredSeq = settings.firstSeq - 1;
let onDrained: (() => void) | null = null;
let ingestFull = false;
let rejected: Partial<Record<RejectReason, number>> = {};
let replays = 0;
let countsPostScheduled = false;

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** Counts go to the main thread with each record written (before its acks), or once a turn for refusals alone. */
let pending = { types: [] as number[], pools: new Map<string, number>() };
function postCounts(): void {
  const paused = ingest?.paused ?? 0;
  const pausedMs = ingest?.pausedMs ?? 0;
  if (ingest) {
    ingest.paused = 0;
    ingest.pausedMs = 0;
  }
  post({ t: 'counts', types: pending.types, pools: [...pending.pools], rejected, paused, pausedMs, replays });
  pending = { types: [], pools: new Map() };
  rejected = {};
  replays = 0;
}

const ingest =
  producerModule &&
  new (await import('../ingest/ingest.js')).Ingest(
    ring,
    {
      written: (counts) => {
        counts.types.forEach((n, code) => (pending.types[code] = (pending.types[code] ?? 0) + n));
        for (const [pool, n] of counts.pools) pending.pools.set(pool, (pending.pools.get(pool) ?? 0) + n);
        postCounts();
      },
      backlog: (full) => {
        ingestFull = full;
        log.debug({ full }, full ? 'the ring is full: pausing producers' : 'room in the ring again: resuming producers');
        for (const producer of producers.values()) producer.throttle(full);
        // The pause is counted in stats at once, not with the next record.
        postCounts();
      },
    },
    settings.maxLineBytes,
  );

/** Counts a refused line; the counts go to the main thread once per turn. */
function countRejected(reason: RejectReason): void {
  rejected[reason] = (rejected[reason] ?? 0) + 1;
  postCountsSoon();
}

function postCountsSoon(): void {
  if (countsPostScheduled) return;
  countsPostScheduled = true;
  setImmediate(() => {
    countsPostScheduled = false;
    if (Object.keys(rejected).length > 0 || replays > 0) postCounts();
  });
}

/** Where records are copied to for delivery: reused once every socket has written them. */
const recordMemory = new RecordMemory();
const delivery = new RecordDelivery();

/** Reads what the ring has for this worker (up to maxBytes of it), hands each record to every subscriber. */
function deliver(maxBytes = Infinity): void {
  consumer.drain(
    (record) => {
      deliveredSeq = record.firstSeq + record.count - 1;
      if (record.void || subscribers.size === 0) return;
      delivery.deliver(subscribers.values(), record.firstSeq, ring.linesOf(record), () => {
        const memory = recordMemory.take(record.length);
        return { view: new BatchView(copyRecord(ring, record, 0, memory)), loan: recordMemory.lend(memory) };
      });
    },
    undefined,
    maxBytes,
  );
}

/**
 * A turn delivers at most this much, then lets the event loop run. Draining all the ring holds in
 * one go, and again at once while more came (a loop of microtasks), kept the event loop from
 * completing socket writes: every write queued behind one huge writev, whose bytes Node counts as
 * pending until all of it is written, and a subscriber that read everything was dropped as slow.
 */
const DELIVERY_SLICE_BYTES = 1 << 20;

/**
 * With no subscriber, the worker keeps up with the ring (its cursor holds the ring's tail) every
 * this many ms instead of being woken for each record: waking a thread that waits with
 * Atomics.waitAsync costs the writer CPU (Atomics.notify posts a task to the waiter's loop). At
 * 10,000 records a second, S = 1, the main thread spent 16.5 µs an event with the idle worker
 * woken for each record and 14.2 µs with it polling (docs/benchmarks.md).
 */
const IDLE_POLL_MS = 5;
/**
 * Polls in a row that found nothing, after which the worker waits to be woken by the next record
 * instead: an idle daemon sleeps (polling, each worker woke 200 times a second and took about 1 %
 * of a core, with nothing to do). One notify then wakes it, and it polls again while records come.
 */
const QUIET_POLLS = 20;

/** Ends the idle wait early: a subscriber came. */
let wakeIdle: (() => void) | undefined;
/**
 * The ring wait of a quiet worker, kept until a record ends it: a subscriber that ends an idle
 * turn early leaves it pending, and the next quiet turn waits on it again rather than adding a
 * waiter (and a notify for the writer) each time.
 */
let quietWait: Promise<void> | undefined;

function idle(quiet: boolean): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      if (wakeIdle === done) wakeIdle = undefined;
      resolve();
    };
    if (quiet) {
      quietWait ??= consumer.waitForMore().finally(() => (quietWait = undefined));
      void quietWait.then(done);
    } else timer = setTimeout(done, IDLE_POLL_MS);
    wakeIdle = done;
  });
}

async function deliveryLoop(): Promise<void> {
  let emptyPolls = 0;
  for (;;) {
    const before = consumer.cursor;
    deliver(DELIVERY_SLICE_BYTES);
    emptyPolls = consumer.cursor === before ? emptyPolls + 1 : 0;
    if (consumer.hasMore) await new Promise((resolve) => setImmediate(resolve));
    else if (subscribers.size === 0) await idle(emptyPolls > QUIET_POLLS);
    else await consumer.waitForMore();
  }
}

const host: SubscriberHost = {
  maxLineBytes: settings.maxLineBytes,
  lineTimeoutMs: settings.lineTimeoutMs,
  maxPendingBytes: settings.maxPendingBytes,
  faultInjection: settings.faultInjection,
  version: settings.version,
  run: settings.run,
  requestReplay: (subscriber, since, first) => {
    // Anything newer than every event (from another run) says nothing about this history: all of it.
    const from = since > ring.nextSeq - 1 && first ? 0 : since;
    if (first) {
      replays++;
      postCountsSoon();
    }
    history.chunk(from, consumer.cursor, deliveredSeq, REPLAY_CHUNK_BYTES).then(
      // What this worker has delivered by now, not when the chunk was asked for: a chunk from the
      // journal is read asynchronously, and live events read meanwhile were not sent to this
      // subscriber (it was replaying), so its replay must go on to them before it is live.
      ({ batch, missed }) => subscriber.replay(new BatchView(batch), deliveredSeq, missed),
      (error: Error) => {
        log.error({ subscriber: subscriber.id, err: error }, 'replay failed');
        subscriber.replayFailed(`eventd could not read its history: ${error.message}`);
      },
    );
  },
  seqAtTime: (timeMs) => history.seqAtTime(timeMs, consumer.cursor).then((seq) => seq ?? deliveredSeq + 1),
  requestStats: (subscriber, format) => post({ t: 'stats', subscriber: subscriber.id, format }),
  requestCommand: (subscriber, text) => {
    commandSchemas ??= import('../protocol/parse-command.js');
    commandSchemas.then(
      ({ parseCommandFor }) => subscriber.commandParsed(parseCommandFor(subscriber.dialect, text, settings.faultInjection)),
      (error: Error) => {
        const message = `The command does not match its schema (why could not be worked out: ${error.message})`;
        subscriber.commandParsed({ ok: false, message });
      },
    );
  },
  crash: () => {
    log.warn('crashing on request (EVENTD_FAULT_INJECTION)');
    setImmediate(() => {
      throw new Error('worker crashed on request (fault injection)');
    });
  },
  block: (ms) => {
    log.warn({ ms }, 'blocking on request (EVENTD_FAULT_INJECTION)');
    // Sleeps the whole thread, as an overloaded worker would be stuck: nothing is read or written.
    setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms));
  },
  closed: (subscriber, reason: CloseReason) => {
    subscribers.delete(subscriber.id);
    if (reason === 'slow') {
      log.warn({ subscriber: subscriber.id, maxPendingBytes: settings.maxPendingBytes }, 'subscriber dropped: too slow');
    } else {
      log.debug({ subscriber: subscriber.id, reason }, 'subscriber disconnected');
    }
    post({ t: 'closed', id: subscriber.id, reason });
    checkDrained();
  },
};

/** A `since` replay goes to its subscriber in chunks of about this size, each once the last has been taken. */
const REPLAY_CHUNK_BYTES = 64 * 1024;

/** A connection handed over by the main thread; half-open, as a producer may end its side and still read its replies. */
function openConnection(fd: number): Socket {
  // (readableHighWaterMark is passed on to stream.Duplex; Node's typings of the constructor leave it out.)
  const options = { fd, readable: true, writable: true, allowHalfOpen: true, readableHighWaterMark: READ_AHEAD_BYTES };
  return new Socket(options);
}

function attach(id: number, fd: number, dialect: Dialect): void {
  let socket: Socket;
  try {
    socket = openConnection(fd);
  } catch (error) {
    log.error({ subscriber: id, fd, err: error }, 'cannot open subscriber connection');
    closeSync(fd);
    post({ t: 'closed', id, reason: 'error' });
    return;
  }
  // Whatever is in the ring now was published before it came: it starts with what comes next.
  deliver();
  subscribers.set(id, new Subscriber(id, socket, host, dialect));
  wakeIdle?.();
  post({ t: 'attached', id });
}

let producersStopped = false;

function attachProducer(id: number, fd: number, peer: PeerCred | undefined): void {
  if (producersStopped || !producerModule || !ingest) return refuseProducer(id, fd);
  let socket: Socket;
  try {
    socket = openConnection(fd);
  } catch (error) {
    log.error({ producer: id, fd, err: error }, 'cannot open producer connection');
    return refuseProducer(id, fd);
  }
  const context = { ingest, maxLineBytes: settings.maxLineBytes, lineTimeoutMs: settings.lineTimeoutMs, rejected: countRejected, log };
  const producer = new producerModule.ProducerConnection(id, socket, context, peer, ingestFull, () => {
    if (!producers.delete(id)) return;
    post({ t: 'producerClosed', id });
    checkDrained();
  });
  producers.set(id, producer);
  post({ t: 'attached', id });
}

function refuseProducer(id: number, fd: number): void {
  closeSync(fd);
  post({ t: 'producerClosed', id });
  checkDrained();
}

/** Shutdown, first step: stop reading producers; what they sent before is published and answered, then we say so. */
function stopProducers(): void {
  producersStopped = true;
  for (const producer of producers.values()) producer.close();
  if (!ingest) return post({ t: 'producersStopped' });
  ingest.after(() => post({ t: 'producersStopped' }));
  ingest.flush();
}

/** At shutdown, says so once the last connection is gone; returns whether it did. */
function checkDrained(): boolean {
  if (!onDrained || subscribers.size > 0 || producers.size > 0) return false;
  onDrained();
  return true;
}

function shutdown(graceMs: number): void {
  // Everything published before the shutdown (its announcement included) goes out first.
  deliver();
  const done = () => {
    post({ t: 'drained' });
    onDrained = null;
  };
  onDrained = done;
  if (checkDrained()) return;
  for (const subscriber of subscribers.values()) subscriber.end();
  // Subscribers that do not read what is left for them are cut off, and producers that do not read their last replies.
  setTimeout(() => {
    for (const subscriber of subscribers.values()) subscriber.destroy();
    for (const producer of producers.values()) producer.destroy();
  }, graceMs).unref();
}

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'attach':
      return attach(message.id, message.fd, message.dialect);
    case 'producer':
      return attachProducer(message.id, message.fd, message.peer);
    case 'stopProducers':
      return stopProducers();
    case 'stats':
      return subscribers.get(message.subscriber)?.statsReply(message.stats, message.error);
    case 'shutdown':
      return shutdown(message.graceMs);
  }
});

void deliveryLoop();
post({ t: 'ready' });
