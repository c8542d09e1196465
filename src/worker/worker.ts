// A worker thread: owns a slice of the subscriber connections and streams events to them.
// The main thread never reads or writes subscriber data.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchView } from '../ipc/batch.js';
import { FlowReceiver } from '../ipc/flow.js';
import type { CloseReason, Dialect, FromWorker, ToWorker, WorkerSettings } from '../ipc/messages.js';
import { createLogger } from '../log.js';
import { Subscriber, type SubscriberHost } from './subscriber.js';

const settings = workerData as WorkerSettings;
const port = parentPort!;
const log = createLogger(settings.logLevel, { worker: settings.index });
const subscribers = new Map<number, Subscriber>();
const flow = new FlowReceiver(settings.flow);
let onDrained: (() => void) | null = null;

function post(message: FromWorker): void {
  port.postMessage(message);
}

const host: SubscriberHost = {
  maxLineBytes: settings.maxLineBytes,
  lineTimeoutMs: settings.lineTimeoutMs,
  maxPendingBytes: settings.maxPendingBytes,
  faultInjection: settings.faultInjection,
  version: settings.version,
  requestReplay: (subscriber, since, first) => post({ t: 'replay', subscriber: subscriber.id, since, first }),
  requestStats: (subscriber, format) => post({ t: 'stats', subscriber: subscriber.id, format }),
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
    if (onDrained && subscribers.size === 0) onDrained();
  },
};

function attach(id: number, fd: number, dialect: Dialect): void {
  let socket: Socket;
  try {
    // A paused (trickling) connection stays unread: see READ_AHEAD_BYTES in daemon/daemon.ts.
    // (Passed on to stream.Duplex; Node's typings of the constructor leave it out.)
    const options = { fd, readable: true, writable: true, allowHalfOpen: true, readableHighWaterMark: 1 };
    socket = new Socket(options);
  } catch (error) {
    log.error({ subscriber: id, fd, err: error }, 'cannot open subscriber connection');
    closeSync(fd);
    post({ t: 'closed', id, reason: 'error' });
    return;
  }
  subscribers.set(id, new Subscriber(id, socket, host, dialect));
  post({ t: 'attached', id });
}

function shutdown(graceMs: number): void {
  const done = () => {
    post({ t: 'drained' });
    onDrained = null;
  };
  if (subscribers.size === 0) return done();
  onDrained = done;
  for (const subscriber of subscribers.values()) subscriber.end();
  // Subscribers that do not read what is left for them are cut off.
  setTimeout(() => {
    for (const subscriber of subscribers.values()) subscriber.destroy();
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
    case 'replay':
      return subscribers.get(message.subscriber)?.replay(new BatchView(message.batch), message.lastSeq, message.missed);
    case 'stats':
      return subscribers.get(message.subscriber)?.statsReply(message.stats, message.error);
    case 'shutdown':
      return shutdown(message.graceMs);
  }
});

post({ t: 'ready' });
