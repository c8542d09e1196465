// The daemon's metrics: every figure of `stats`, in Prometheus' names (docs/operations.md).
import { byLabel, type MetricDef } from '../metrics/registry.js';
import type { DaemonStats } from '../protocol/stats.js';

const perWorker = (stats: DaemonStats, read: (worker: DaemonStats['workers'][number]) => number) =>
  stats.workers.map((worker): [Record<string, string>, number] => [{ worker: String(worker.worker) }, read(worker)]);

export const DAEMON_METRICS: MetricDef<DaemonStats>[] = [
  {
    name: 'eventd_info',
    help: "eventd's version and run (the run changes at each start; seq restarts then)",
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
  { name: 'eventd_last_seq', help: 'seq of the newest event published in this run', type: 'gauge', read: (s) => s.events_published },
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
];
