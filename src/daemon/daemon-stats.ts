// The daemon's stats object (the `stats` command, `eventd top`, the metrics), put together from
// its parts' figures.
import type { Ingest } from '../ingest/ingest.js';
import type { JournalStats } from '../journal/store.js';
import { EVENT_TYPES } from '../protocol/event-types.js';
import { REJECT_REASONS, type DaemonStats } from '../protocol/stats.js';
import type { EventRing } from '../ring/event-ring.js';
import { EVENTD_VERSION } from '../version.js';
import type { DaemonCounters } from './counters.js';
import type { WorkerPool } from './worker-pool.js';

export interface StatsParts {
  run: string;
  startedAt: number;
  /** The first seq of this run. */
  firstSeq: number;
  /** How many of the newest events `since` replays from memory at most (--history). */
  historyEvents: number;
  ring: EventRing;
  counters: DaemonCounters;
  pool: WorkerPool;
  /** Producers the main thread reads, and its ingest's pauses. */
  producersHere: number;
  ingestHere: Ingest;
  journal: JournalStats | null;
}

export function daemonStats({
  run,
  startedAt,
  firstSeq,
  historyEvents,
  ring,
  counters,
  pool,
  producersHere,
  ingestHere,
  journal,
}: StatsParts): DaemonStats {
  const { rejected } = counters;
  const lastSeq = ring.nextSeq - 1;
  const retained = Math.max(0, lastSeq - Math.max(ring.tailSeq, lastSeq - historyEvents + 1) + 1);
  return {
    run,
    pid: process.pid,
    version: EVENTD_VERSION,
    uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    workers: pool.stats(),
    subscribers: pool.subscriberCount,
    producers: producersHere + pool.producerCount,
    events_published: ring.nextSeq - firstSeq,
    last_seq: lastSeq,
    events_by_type: Object.fromEntries(EVENT_TYPES.map((type, code) => [type, counters.byType[code]!])) as DaemonStats['events_by_type'],
    events_by_pool: Object.fromEntries(counters.byPool),
    lines_rejected: REJECT_REASONS.reduce((sum, reason) => sum + rejected[reason], 0),
    lines_rejected_by_reason: { ...rejected },
    subscribers_connected: counters.subscribersConnected,
    subscribers_disconnected: { ...counters.disconnected },
    subscribers_dropped_slow: counters.disconnected.slow,
    producers_connected: counters.producersConnected,
    connections_refused: counters.refused,
    producers_paused: counters.producersPaused + ingestHere.paused,
    producers_paused_seconds: (counters.producersPausedMs + ingestHere.pausedMs) / 1000,
    replays: counters.replays,
    metrics_refused: { ...counters.metricsRefused },
    history: {
      capacity: historyEvents,
      capacity_bytes: ring.size,
      retained,
      bytes: ring.heldBytes,
      first_seq: lastSeq - retained + 1,
      last_seq: lastSeq,
    },
    journal,
  };
}
