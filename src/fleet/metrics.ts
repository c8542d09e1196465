// `eventd forward --metrics-listen`: the forwarder's counters in Prometheus' names.
import type { MetricDef } from '../metrics/registry.js';
import type { ForwarderStats } from './forwarder.js';

export const FORWARDER_METRICS: MetricDef<ForwarderStats>[] = [
  {
    name: 'eventd_forward_info',
    help: 'The host and stream forwarded to',
    type: 'gauge',
    labels: ['host', 'stream'],
    read: (s) => [[{ host: s.host, stream: s.stream }, 1]],
  },
  {
    name: 'eventd_forward_events_total',
    help:
      'Events JetStream acknowledged as stored ' +
      '(one stored just as the connection died, whose ack was lost, is in the stream but not counted)',
    type: 'counter',
    read: (s) => s.forwarded,
  },
  {
    name: 'eventd_forward_duplicates_total',
    help: 'Publishes JetStream recognised as already stored (retries)',
    type: 'counter',
    read: (s) => s.duplicates,
  },
  {
    name: 'eventd_forward_gaps_total',
    help: "Times the daemon's history did not reach back to the last event stored",
    type: 'counter',
    read: (s) => s.gaps,
  },
  {
    name: 'eventd_forward_missed_total',
    help: 'Events known lost in those gaps (evicted before they were forwarded)',
    type: 'counter',
    read: (s) => s.missed,
  },
  {
    name: 'eventd_forward_sessions_total',
    help: 'Subscriptions to the daemon started (1 + resumptions)',
    type: 'counter',
    read: (s) => s.sessions,
  },
  {
    name: 'eventd_forward_nats_disconnects_total',
    help: 'Times the connection to NATS was lost',
    type: 'counter',
    read: (s) => s.nats_disconnects,
  },
  {
    name: 'eventd_forward_nats_reconnects_total',
    help: 'Times the connection to NATS came back',
    type: 'counter',
    read: (s) => s.nats_reconnects,
  },
  {
    name: 'eventd_forward_last_seq',
    help: "seq (in the daemon's run) of the last event JetStream acknowledged",
    type: 'gauge',
    read: (s) => s.last_seq,
  },
];
