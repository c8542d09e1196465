// Watching the whole fleet: every forwarded event from JetStream, through an ordered consumer
// (gap-free and in stream order, so each host's events come in their seq order), from now on or
// replayed from a time or a stream sequence.
import { DeliverPolicy, jetstream, JetStreamApiCodes, type ConsumerMessages, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SubscribeOptions } from '../client/subscription.js';
import type { Event, EventType } from '../protocol/events.js';
import { compileFilter, matchesOpts, matchesType } from '../protocol/filter.js';
import { connectNats, watchConnection } from './connection.js';
import { EventdError } from '../errors.js';
import type { FleetSince } from './settings.js';
import { isJetStreamError } from './stream.js';
import { filterSubject, HOST_HEADER, parseSubject, RUN_HEADER } from './subjects.js';

export interface FleetWatchOptions {
  natsUrl: string;
  stream: string;
  hosts: string[];
  types: EventType[];
  /** Conditions on opts, as for a local subscription. */
  opts?: SubscribeOptions['opts'];
  since?: FleetSince;
  /** Told, in a sentence, when the connection to NATS is lost and when reading resumes. */
  onNotice?: (message: string) => void;
}

export interface FleetEvent {
  host: string;
  run: string;
  /** The event's position in the JetStream stream. */
  streamSeq: number;
  event: Event;
}

function deliverFrom(since: FleetSince | undefined): Partial<OrderedConsumerOptions> {
  if (since === undefined) return { deliver_policy: DeliverPolicy.New };
  if ('time' in since) return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.time.toISOString() };
  if (since.afterStreamSeq === 0) return { deliver_policy: DeliverPolicy.All };
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: since.afterStreamSeq + 1 };
}

function tellConnection(nc: NatsConnection, messages: ConsumerMessages, tell: (message: string) => void): void {
  watchConnection(nc, { lost: () => tell('connection to NATS lost; reconnecting'), back: () => tell('connection to NATS back') });
  void (async () => {
    for await (const status of messages.status()) {
      if (status.type === 'ordered_consumer_recreated') tell('reading the stream again where it left off');
    }
  })();
}

export async function* watchFleet(options: FleetWatchOptions): AsyncGenerator<FleetEvent> {
  const nc = await connectNats(options.natsUrl, 'eventd monitor');
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers
      .get(options.stream, { filter_subjects: filterSubject(options.hosts, options.types), ...deliverFrom(options.since) })
      .catch((error: Error) => {
        const missing = isJetStreamError(error, JetStreamApiCodes.StreamNotFound);
        const hint = missing ? ' (no forwarder has created it yet: see eventd forward)' : '';
        const message = `cannot read stream ${options.stream} at ${options.natsUrl}: ${error.message}${hint}`;
        throw new EventdError('EVENTD_STREAM', message, { cause: error });
      });
    const hosts = new Set(options.hosts);
    const filter = compileFilter({ type: options.types.length > 0 ? options.types : undefined, opts: options.opts });
    // Pull requests that expire after 5 s (not the default 30 s): after a NATS restart the
    // consumer is recreated and pulling again within seconds instead of half a minute.
    const messages = await consumer.consume({ expires: 5000 });
    if (options.onNotice) tellConnection(nc, messages, options.onNotice);
    for await (const message of messages) {
      const named = parseSubject(message.subject);
      if (!named) continue;
      const host = message.headers?.get(HOST_HEADER) || named.host;
      if (hosts.size > 0 && !hosts.has(host)) continue;
      const event = message.json<Event>();
      if (!matchesType(filter, event.type) || !matchesOpts(filter, event.opts)) continue;
      yield { host, run: message.headers?.get(RUN_HEADER) ?? '', streamSeq: message.seq, event };
    }
  } finally {
    await nc.close();
  }
}
