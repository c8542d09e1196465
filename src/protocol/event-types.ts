// The event types by name, without their schemas (events.ts): what the threads that only route
// events need, so that they do not load zod. A type's index in EVENT_TYPES is its compact code
// between threads.

export const EVENT_TYPES = ['management', 'osctld_shutdown', 'state', 'db', 'ct_scheduled', 'ct_init_pid', 'ct_netif', 'ct_exit'] as const;

export type EventType = (typeof EVENT_TYPES)[number];

const eventTypeIndex = new Map<string, number>(EVENT_TYPES.map((type, index) => [type, index]));

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && eventTypeIndex.has(value);
}

export function eventTypeCode(type: EventType): number {
  return eventTypeIndex.get(type)!;
}

/** opts of the daemon's own shutdown announcement: osctld_shutdown with `source: "eventd"` (events.ts). */
export const DAEMON_SHUTDOWN_OPTS = { source: 'eventd' } as const;

/** Whether an event is the daemon's own shutdown announcement, not a producer's osctld_shutdown. */
export function isDaemonShutdown(event: { type?: string; opts?: unknown }): boolean {
  return event.type === 'osctld_shutdown' && (event.opts as { source?: unknown } | undefined)?.source === DAEMON_SHUTDOWN_OPTS.source;
}
