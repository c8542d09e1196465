// The event types by name, and the value lists their schemas take (events.ts), without zod: what
// the threads that only route events need, and the fast path of ingest (fast-report.ts), so that
// neither loads zod. A type's index in EVENT_TYPES is its compact code between threads.

export const EVENT_TYPES = ['management', 'osctld_shutdown', 'state', 'db', 'ct_scheduled', 'ct_init_pid', 'ct_netif', 'ct_exit'] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The longest ZFS pool name, in bytes (events.ts: the pool schema; fast-report.ts). */
export const POOL_NAME_MAX = 255;

// What each field may hold follows osctld's `Eventd.report` call sites (events.ts says where).

/** States osctld reports: LXC's eight, and `error` when osctld cannot read a container's state. */
export const CONTAINER_STATES = [
  'stopped',
  'starting',
  'running',
  'stopping',
  'aborting',
  'freezing',
  'frozen',
  'thawed',
  'error',
] as const;

/** osctld's DB lists, named as it names them: the object's class name in lower case. */
export const DB_OBJECTS = ['pool', 'user', 'group', 'container', 'idrange', 'repository'] as const;

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
