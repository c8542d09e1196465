// The answer to `{"cmd":"stats"}`: the daemon's counters, as they go over the wire. Client, CLI
// and the metrics exposition read this one shape.
import type { EventType } from './events.js';
import type { JournalStats } from '../journal/store.js';

/** Why a report line was refused: the families of the error messages (docs/protocol.md). */
export const REJECT_REASONS = [
  /** Longer than --max-line-bytes, or not UTF-8. */
  'framing',
  /** Not JSON, or not a JSON object. */
  'json',
  /** No type, an unknown type, or a command sent to the report socket. */
  'type',
  /** The opts do not match the type's schema (or the event could not be published as it is). */
  'schema',
  /** Valid, but the journal could not write it (disk full, I/O error): nothing was published. */
  'journal',
  /** Not checked: eventd could not load its report schemas (out of file descriptors); nothing was published. */
  'unchecked',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Why a subscriber's connection ended. */
export const CLOSE_REASONS = ['eof', 'error', 'slow', 'shutdown'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Why the metrics server turned a connection away. */
export const METRICS_REFUSALS = ['connections', 'address', 'unread'] as const;
export type MetricsRefusal = (typeof METRICS_REFUSALS)[number];

export interface WorkerStats {
  worker: number;
  subscribers: number;
  /** Producer connections this worker reads (it validates their reports; the main thread sequences them). */
  producers: number;
  restarts: number;
  /** Bytes of events published and not yet handed to this worker (flow control holds them). */
  pending_bytes: number;
}

export interface DaemonStats {
  /** Random per daemon start: seq restarts at 1 when it changes. */
  run: string;
  pid: number;
  version: string;
  uptime_seconds: number;
  workers: WorkerStats[];
  /** Subscriber connections open now (the one asking for stats included). */
  subscribers: number;
  producers: number;
  /** Events published by this daemon since it started. */
  events_published: number;
  /** seq of the newest event (seq goes on across restarts with a journal). */
  last_seq: number;
  events_by_type: Record<EventType, number>;
  /** Events by their opts.pool (types without a pool are not counted here). */
  events_by_pool: Record<string, number>;
  lines_rejected: number;
  lines_rejected_by_reason: Record<RejectReason, number>;
  subscribers_connected: number;
  subscribers_disconnected: Record<CloseReason, number>;
  subscribers_dropped_slow: number;
  producers_connected: number;
  /** Connections turned away because their socket had --max-connections already. */
  connections_refused: number;
  /** How often producers were paused because a worker fell behind (flow control). */
  producers_paused: number;
  /** Seconds producers spent paused by flow control, in all. */
  producers_paused_seconds: number;
  /** `since` subscriptions served from the history. */
  replays: number;
  /** Connections to --metrics-listen turned away (past its cap, from an address not allowed), or closed with an answer they never took. */
  metrics_refused: Record<MetricsRefusal, number>;
  history: { capacity: number; capacity_bytes: number; retained: number; bytes: number; first_seq: number; last_seq: number };
  /** The journal's figures; null with --no-journal. */
  journal: JournalStats | null;
}
