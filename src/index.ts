// The eventd library: an in-process server, a client for the sockets, and the event types.
// The fleet side (NATS JetStream) is `eventd/fleet`, so that only its users load the NATS client.
export { EventdServer, type ServerOptions } from './server.js';
export { Reporter } from './client/reporter.js';
export { ERROR_CODES, EventdError, isEventdError, ReportRejectedError, type EventdErrorCode } from './errors.js';
export { subscribe, Subscription, type Gap, type SubscribeOptions } from './client/subscription.js';
export { ConnectError, defaultSocketPaths } from './client/connect.js';
export {
  EVENT_TYPES,
  eventOptsSchemas,
  eventSchema,
  reportSchemas,
  type Event,
  type EventOpts,
  type EventType,
  type Report,
} from './protocol/events.js';
export { allReportJsonSchemas, reportJsonSchema } from './protocol/json-schema.js';
export type { DaemonConfig } from './daemon/config.js';
export type { DaemonStats, WorkerStats } from './protocol/stats.js';
