// `eventd/fleet`: forwarding a host's events into NATS JetStream, and watching the fleet there.
export { Forwarder, type ForwarderOptions, type ForwarderStats } from './forwarder.js';
export { watchFleet, type FleetEvent, type FleetWatchOptions } from './fleet-monitor.js';
export type { FleetSince } from './settings.js';
export { ERROR_CODES, EventdError, isEventdError, type EventdErrorCode } from '../errors.js';
export { eventSubject, filterSubject, hostToken, messageId, parseMessageId, parseSubject } from './subjects.js';
