// A worker thread: owns a slice of the subscriber connections and streams events to them, and a
// slice of the producer connections, whose reports it validates and serializes for the main thread
// to sequence. The main thread never reads or writes connection data.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchView } from '../ipc/batch.js';
import { FlowReceiver } from '../ipc/flow.js';
import type { CloseReason, Dialect, FromWorker, ToWorker, WorkerSettings } from '../ipc/messages.js';
import type { PeerCred } from '../native/index.js';
import type { RejectReason } from '../protocol/stats.js';
import { Ingest } from '../ingest/ingest.js';
import { READ_AHEAD_BYTES } from '../protocol/framing.js';
import type { ProducerConnection } from '../ingest/producer.js';
import { WorkerLogger } from './log.js';
import { Subscriber, type SubscriberHost } from './subscriber.js';

const settings = workerData as WorkerSettings;
/**
 * Only a worker that reads producers loads the report schemas (zod: about 10 MiB of a thread's
 * memory); the others check subscribers' commands without zod (protocol/command-check.ts). Loaded
 * at start rather than with the first producer: Node never retries a failed import() (EMFILE).
 */
const producerModule = settings.index < settings.producerReaders ? await import('../ingest/producer.js') : undefined;
/**
 * The command schemas (zod), loaded by the first command line that the zod-free check refuses,
 * to say why: working that out here rather than on the main thread keeps a client that floods
 * bad commands off the thread every event passes. Should loading fail (EMFILE), Node never
 * retries it: such commands are then refused without the details.
 */
let commandSchemas: Promise<typeof import('../protocol/commands.js')> | undefined;
const port = parentPort!;
const log = new WorkerLogger(settings.logLevel, { worker: settings.index }, (message) => port.postMessage(message));
const subscribers = new Map<number, Subscriber>();
const flow = new FlowReceiver(settings.flow);
const producers = new Map<number, ProducerConnection>();
let onDrained: (() => void) | null = null;
/** Producers are paused while the main thread says the workers are behind, or while it is behind with our reports. */
let throttledByMain = false;
let ingestBehind = false;
let producersPaused = false;
let rejected: Partial<Record<RejectReason, number>> = {};
let rejectedPostScheduled = false;

function post(message: FromWorker): void {
  port.postMessage(message);
}

const ingest = new Ingest(
  {
    // The batch's one buffer is moved, not copied.
    send: (reports, pools) => {
      const message: FromWorker = { t: 'reports', reports, pools };
      port.postMessage(message, [reports.bytes.buffer as ArrayBuffer]);
    },
    backlog: (full) => {
      ingestBehind = full;
      updateProducerFlow();
    },
  },
  settings.maxLineBytes,
);

function updateProducerFlow(): void {
  const paused = throttledByMain || ingestBehind;
  if (paused === producersPaused) return;
  producersPaused = paused;
  for (const producer of producers.values()) producer.throttle(paused);
}

/** Counts a refused line; the counts go to the main thread once per turn. */
function countRejected(reason: RejectReason): void {
  rejected[reason] = (rejected[reason] ?? 0) + 1;
  if (rejectedPostScheduled) return;
  rejectedPostScheduled = true;
  setImmediate(() => {
    rejectedPostScheduled = false;
    post({ t: 'rejected', counts: rejected });
    rejected = {};
  });
}

const host: SubscriberHost = {
  maxLineBytes: settings.maxLineBytes,
  lineTimeoutMs: settings.lineTimeoutMs,
  maxPendingBytes: settings.maxPendingBytes,
  faultInjection: settings.faultInjection,
  version: settings.version,
  run: settings.run,
  requestReplay: (subscriber, since, first) => post({ t: 'replay', subscriber: subscriber.id, since, first }),
  requestStats: (subscriber, format) => post({ t: 'stats', subscriber: subscriber.id, format }),
  requestCommand: (subscriber, text) => {
    commandSchemas ??= import('../protocol/commands.js');
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
  subscribers.set(id, new Subscriber(id, socket, host, dialect));
  post({ t: 'attached', id });
}

let producersStopped = false;

function attachProducer(id: number, fd: number, peer: PeerCred | undefined): void {
  if (producersStopped || !producerModule) return refuseProducer(id, fd);
  let socket: Socket;
  try {
    socket = openConnection(fd);
  } catch (error) {
    log.error({ producer: id, fd, err: error }, 'cannot open producer connection');
    return refuseProducer(id, fd);
  }
  const context = { ingest, maxLineBytes: settings.maxLineBytes, lineTimeoutMs: settings.lineTimeoutMs, rejected: countRejected, log };
  const producer = new producerModule.ProducerConnection(id, socket, context, peer, producersPaused, () => {
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

/** Shutdown, first step: stop reading producers; what they sent before is sent on now. */
function stopProducers(): void {
  producersStopped = true;
  for (const producer of producers.values()) producer.close();
  ingest.flush();
  post({ t: 'producersStopped' });
}

/** At shutdown, says so once the last connection is gone; returns whether it did. */
function checkDrained(): boolean {
  if (!onDrained || subscribers.size > 0 || producers.size > 0) return false;
  onDrained();
  return true;
}

function shutdown(graceMs: number): void {
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
    case 'events': {
      const view = new BatchView(message.batch);
      for (const subscriber of subscribers.values()) subscriber.deliver(view);
      if (flow.delivered()) post({ t: 'delivered' });
      return;
    }
    case 'attach':
      return attach(message.id, message.fd, message.dialect);
    case 'producer':
      return attachProducer(message.id, message.fd, message.peer);
    case 'sequenced':
      return ingest.sequenced(message.firstSeq);
    case 'throttle':
      throttledByMain = message.on;
      return updateProducerFlow();
    case 'stopProducers':
      return stopProducers();
    case 'replay':
      return subscribers.get(message.subscriber)?.replay(new BatchView(message.batch), message.lastSeq, message.missed);
    case 'stats':
      return subscribers.get(message.subscriber)?.statsReply(message.stats, message.error);
    case 'shutdown':
      return shutdown(message.graceMs);
  }
});

post({ t: 'ready' });
