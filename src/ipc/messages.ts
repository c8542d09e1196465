// Messages between the main thread (supervisor) and the worker threads.
import type { PeerCred } from '../native/index.js';
import type { CloseReason, RejectReason } from '../protocol/stats.js';
import type { EventBatch } from './batch.js';

export type { CloseReason };

export interface WorkerSettings {
  index: number;
  maxLineBytes: number;
  lineTimeoutMs: number;
  maxPendingBytes: number;
  logLevel: string;
  faultInjection: boolean;
  /** eventd's version, for the greeting on the osctld-compatible socket. */
  version: string;
  /** The daemon's run id, for the answer to event_subscribe. */
  run: string;
  /** Workers 0 … producerReaders - 1 read producers (and only they load the report schemas). */
  producerReaders: number;
  /** Delivery counters shared with the main thread (ipc/flow.ts). */
  flow: SharedArrayBuffer;
}

export type ToWorker =
  /** Take ownership of a subscriber connection's file descriptor. */
  | { t: 'attach'; id: number; fd: number; dialect: Dialect }
  /** Take ownership of a producer connection's file descriptor (peer: who is on the other end, if known). */
  | { t: 'producer'; id: number; fd: number; peer: PeerCred | undefined }
  /** The answer to the oldest batch of reports this worker sent: the seq of its first event. */
  | { t: 'sequenced'; firstSeq: number }
  /** Pause reading every producer (the workers are behind), or resume. */
  | { t: 'throttle'; on: boolean }
  /** Stop taking reports (shutdown): answer with `producersStopped` once the last batch is sent. */
  | { t: 'stopProducers' }
  | { t: 'events'; batch: EventBatch }
  /** History for a `since` subscription: the next chunk of what is retained after `since`; lastSeq is the newest event now. */
  | { t: 'replay'; subscriber: number; batch: EventBatch; lastSeq: number; missed: number }
  /** The answer to a stats or metrics command, or why there is none. */
  | { t: 'stats'; subscriber: number; stats: unknown; error?: string }
  | { t: 'shutdown'; graceMs: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'attached'; id: number }
  /** Reports the worker's producers sent, validated and serialized, to be sequenced and published. */
  | { t: 'reports'; reports: EventBatch; pools: [string, number][] }
  /** Lines refused since the last such message, by reason. */
  | { t: 'rejected'; counts: Partial<Record<RejectReason, number>> }
  | { t: 'producerClosed'; id: number }
  | { t: 'producersStopped' }
  /** A log record, written by the main thread's logger (fields include the worker's bindings). */
  | { t: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string }
  /** A batch was delivered (written to or queued for every subscriber), and the main thread asked to be told. */
  | { t: 'delivered' }
  | { t: 'closed'; id: number; reason: CloseReason }
  /** first: the subscription's first chunk (a new replay), not the next chunk of one. */
  | { t: 'replay'; subscriber: number; since: number; first: boolean }
  | { t: 'stats'; subscriber: number; format: StatsFormat }
  | { t: 'drained' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Which protocol a subscriber connection speaks: eventd's own, or osctld's client protocol. */
export type Dialect = 'native' | 'osctld';

/** stats as a JSON object, or metrics as Prometheus text (the `metrics` command). */
export type StatsFormat = 'json' | 'prometheus';
