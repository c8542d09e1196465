// Messages between the main thread (supervisor) and the worker threads. Events do not travel in
// messages: every thread reads them in the shared ring (ring/event-ring.ts).
import type { PeerCred } from '../native/index.js';
import type { RingHandles } from '../ring/event-ring.js';
import type { CloseReason, RejectReason } from '../protocol/stats.js';

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
  /** The shared ring: every worker reads it as consumer `index`; those that read producers write it too. */
  ring: RingHandles;
  /** The seq of the first event this worker reads (its consumer joined the ring just before it started). */
  firstSeq: number;
  /** Where the journal is, for replays older than the ring (undefined without a journal). */
  journalDir: string | undefined;
  /** --history: the newest events a replay may take from memory. */
  historyEvents: number;
}

export type ToWorker =
  /** Take ownership of a subscriber connection's file descriptor. */
  | { t: 'attach'; id: number; fd: number; dialect: Dialect }
  /** Take ownership of a producer connection's file descriptor (peer: who is on the other end, if known). */
  | { t: 'producer'; id: number; fd: number; peer: PeerCred | undefined }
  /** Stop taking reports (shutdown): answer with `producersStopped` once every report read is answered. */
  | { t: 'stopProducers' }
  /** The answer to a stats or metrics command, or why there is none. */
  | { t: 'stats'; subscriber: number; stats: unknown; error?: string }
  /** Deliver everything published up to now, then end every subscription (at most graceMs). */
  | { t: 'shutdown'; graceMs: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'attached'; id: number }
  /**
   * What this worker's producers had written and refused since the last such message: events per
   * type code and per pool, lines refused by reason, and the time they were held back.
   */
  | {
      t: 'counts';
      types: number[];
      pools: [string, number][];
      rejected: Partial<Record<RejectReason, number>>;
      paused: number;
      pausedMs: number;
      /** `since` replays this worker started. */
      replays: number;
    }
  | { t: 'producerClosed'; id: number }
  | { t: 'producersStopped' }
  /** A log record, written by the main thread's logger (fields include the worker's bindings). */
  | { t: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string }
  | { t: 'closed'; id: number; reason: CloseReason }
  | { t: 'stats'; subscriber: number; format: StatsFormat }
  | { t: 'drained' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Which protocol a subscriber connection speaks: eventd's own, or osctld's client protocol. */
export type Dialect = 'native' | 'osctld';

/** stats as a JSON object, or metrics as Prometheus text (the `metrics` command). */
export type StatsFormat = 'json' | 'prometheus';
