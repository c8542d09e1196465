// The daemon's metrics: every figure of `stats`, in Prometheus' names (docs/operations.md).
import { byLabel, type MetricDef } from '../metrics/registry.js';
import type { DaemonStats } from '../protocol/stats.js';

const perWorker = (stats: DaemonStats, read: (worker: DaemonStats['workers'][number]) => number) =>
  stats.workers.map((worker): [Record<string, string>, number] => [{ worker: String(worker.worker) }, read(worker)]);

export const DAEMON_METRICS: MetricDef<DaemonStats>[] = [
  {
    name: 'eventd_info',
    help: "eventd's version and run (the run changes when the history broke: without a journal, at each start)",
    type: 'gauge',
    labels: ['version', 'run'],
    read: (s) => [[{ version: s.version, run: s.run }, 1]],
  },
  {
    name: 'eventd_events_published_total',
    help: 'Events published, by type',
    type: 'counter',
    labels: ['type'],
    read: (s) => byLabel('type', s.events_by_type),
  },
  {
    name: 'eventd_events_published_by_pool_total',
    help: 'Events published, by opts.pool (events without a pool are not counted; past 256 pools the rest count as "(other)")',
    type: 'counter',
    labels: ['pool'],
    read: (s) => byLabel('pool', s.events_by_pool),
  },
  {
    name: 'eventd_last_seq',
    help: 'seq of the newest event (with a journal seq goes on across restarts)',
    type: 'gauge',
    read: (s) => s.last_seq,
  },
  {
    name: 'eventd_reports_rejected_total',
    help: 'Report lines refused with an error line, by reason: framing (too long, not UTF-8), json, type (unknown or missing), schema',
    type: 'counter',
    labels: ['reason'],
    read: (s) => byLabel('reason', s.lines_rejected_by_reason),
  },
  { name: 'eventd_producers', help: 'Producer connections open on the report socket', type: 'gauge', read: (s) => s.producers },
  { name: 'eventd_producer_connects_total', help: 'Producer connections accepted', type: 'counter', read: (s) => s.producers_connected },
  {
    name: 'eventd_producers_paused_total',
    help: 'Times producers were paused because a worker fell behind (flow control)',
    type: 'counter',
    read: (s) => s.producers_paused,
  },
  {
    name: 'eventd_producers_paused_seconds_total',
    help: 'Seconds producers were paused by flow control',
    type: 'counter',
    read: (s) => s.producers_paused_seconds,
  },
  {
    name: 'eventd_subscribers',
    help: 'Subscriber connections open, by worker thread',
    type: 'gauge',
    labels: ['worker'],
    read: (s) => perWorker(s, (w) => w.subscribers),
  },
  {
    name: 'eventd_subscriber_connects_total',
    help: 'Subscriber connections accepted (events and osctld sockets)',
    type: 'counter',
    read: (s) => s.subscribers_connected,
  },
  {
    name: 'eventd_subscriber_disconnects_total',
    help: 'Subscriber connections ended, by reason: eof (client closed), error, slow (dropped for not reading), shutdown',
    type: 'counter',
    labels: ['reason'],
    read: (s) => byLabel('reason', s.subscribers_disconnected),
  },
  {
    name: 'eventd_subscribers_dropped_slow_total',
    help: 'Subscribers disconnected for falling more than --max-pending-bytes behind',
    type: 'counter',
    read: (s) => s.subscribers_dropped_slow,
  },
  {
    name: 'eventd_connections_refused_total',
    help: 'Connections turned away at --max-connections',
    type: 'counter',
    read: (s) => s.connections_refused,
  },
  {
    name: 'eventd_worker_pending_bytes',
    help: 'Bytes of events waiting to be handed to each worker thread',
    type: 'gauge',
    labels: ['worker'],
    read: (s) => perWorker(s, (w) => w.pending_bytes),
  },
  {
    name: 'eventd_worker_restarts_total',
    help: 'Times a worker thread died and was replaced',
    type: 'counter',
    labels: ['worker'],
    read: (s) => perWorker(s, (w) => w.restarts),
  },
  { name: 'eventd_history_events', help: 'Events retained for `since` replay', type: 'gauge', read: (s) => s.history.retained },
  { name: 'eventd_history_bytes', help: 'Bytes retained for `since` replay', type: 'gauge', read: (s) => s.history.bytes },
  {
    name: 'eventd_history_oldest_seq',
    help: 'seq of the oldest retained event (a `since` older than this misses events)',
    type: 'gauge',
    read: (s) => s.history.first_seq,
  },
  { name: 'eventd_history_capacity_events', help: 'Most events retained (--history)', type: 'gauge', read: (s) => s.history.capacity },
  {
    name: 'eventd_history_capacity_bytes',
    help: 'Most bytes retained (--history-bytes)',
    type: 'gauge',
    read: (s) => s.history.capacity_bytes,
  },
  {
    name: 'eventd_metrics_connections_refused_total',
    help:
      'Connections to --metrics-listen turned away, by reason: connections (its cap), address (--metrics-allow); ' +
      'unread: closed with an answer not taken',
    type: 'counter',
    labels: ['reason'],
    read: (s) => byLabel('reason', s.metrics_refused),
  },
  { name: 'eventd_replays_total', help: '`since` subscriptions served from the history', type: 'counter', read: (s) => s.replays },
  ...journalMetrics(),
];

/** The journal's figures (no sample without a journal). */
function journalMetrics(): MetricDef<DaemonStats>[] {
  const gauge = (name: string, help: string, read: (j: NonNullable<DaemonStats['journal']>) => number): MetricDef<DaemonStats> => ({
    name,
    help,
    type: 'gauge',
    read: (s) => (s.journal ? [[{}, read(s.journal)]] : []),
  });
  const counter = (name: string, help: string, read: (j: NonNullable<DaemonStats['journal']>) => number): MetricDef<DaemonStats> => ({
    ...gauge(name, help, read),
    type: 'counter',
  });
  return [
    gauge('eventd_journal_bytes', 'Bytes of journal segments on disk', (j) => j.bytes),
    gauge('eventd_journal_segments', 'Journal segment files', (j) => j.segments),
    gauge(
      'eventd_journal_oldest_seq',
      'seq of the oldest event the journal keeps (the farthest a since replay reaches)',
      (j) => j.oldest_seq,
    ),
    gauge('eventd_journal_oldest_timestamp_seconds', 'Time of the oldest event the journal keeps', (j) =>
      j.oldest_time === null ? 0 : Date.parse(j.oldest_time) / 1000,
    ),
    gauge('eventd_journal_written_seq', 'seq of the newest event written to the journal', (j) => j.written_seq),
    gauge('eventd_journal_synced_seq', 'seq of the newest event known to be on disk (fdatasync)', (j) => j.synced_seq),
    counter('eventd_journal_fsyncs_total', 'fdatasync calls on the journal', (j) => j.fsyncs),
    counter('eventd_journal_fsync_seconds_total', 'Seconds spent in fdatasync on the journal', (j) => j.fsync_seconds),
    gauge('eventd_journal_fsync_max_seconds', 'The longest fdatasync since the daemon started', (j) => j.fsync_max_seconds),
    counter('eventd_journal_write_errors_total', 'Journal writes (or syncs) that failed: disk full, I/O errors', (j) => j.write_errors),
    gauge('eventd_journal_writable', '1 while the journal can write; 0 while it cannot (reports are refused then)', (j) =>
      j.writable ? 1 : 0,
    ),
    gauge('eventd_journal_damaged_ranges', 'Damaged ranges found in the last segment at start (eventd journal verify)', (j) => j.damaged),
    counter(
      'eventd_journal_segments_deleted_total',
      'Journal segments deleted by retention (--journal-max-bytes, --journal-max-age)',
      (j) => j.segments_deleted,
    ),
  ];
}
