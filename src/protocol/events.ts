// The single source of truth for what an event is. Every type in eventd that describes an event
// is inferred from these schemas; the JSON Schema printed by `eventd schema` is generated from them.
import { z } from 'zod';

const name = z.string().min(1);

/** `pool` and `id` identify a container in every container event. */
const container = { pool: name, id: name };

const ctNetifFields = { ...container, name, veth: name };

export const eventOptsSchemas = {
  management: z.strictObject({
    id: z.union([name, z.int()]),
    cmd: name,
    opts: z.record(z.string(), z.unknown()),
    state: z.enum(['run', 'done', 'failed']),
  }),
  osctld_shutdown: z.strictObject({}),
  state: z.strictObject({
    ...container,
    state: z.enum(['stopped', 'starting', 'running', 'stopping', 'aborting', 'freezing', 'frozen', 'thawed']),
  }),
  db: z.strictObject({
    object: z.enum(['pool', 'user', 'group', 'container']),
    ...container,
    action: z.enum(['add', 'remove']),
  }),
  ct_scheduled: z.strictObject({ ...container, cpu_package_inuse: z.int().min(0) }),
  ct_init_pid: z.strictObject({ ...container, init_pid: z.int().min(1) }),
  // `new_name` exists exactly when an interface is renamed, so the action decides the shape.
  ct_netif: z.discriminatedUnion('action', [
    z.strictObject({ ...ctNetifFields, action: z.enum(['add', 'remove', 'up', 'down']) }),
    z.strictObject({ ...ctNetifFields, action: z.literal('rename'), new_name: name }),
  ]),
  ct_exit: z.strictObject({ ...container, exit_type: z.enum(['halt', 'reboot']) }),
} as const;

export type EventType = keyof typeof eventOptsSchemas;
export type EventOpts<T extends EventType = EventType> = z.infer<(typeof eventOptsSchemas)[T]>;

/** All event types, in a fixed order: a type's index is its compact code between threads. */
export const EVENT_TYPES = Object.keys(eventOptsSchemas) as EventType[];

const eventTypeIndex = new Map<string, number>(EVENT_TYPES.map((type, index) => [type, index]));

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && eventTypeIndex.has(value);
}

export function eventTypeCode(type: EventType): number {
  return eventTypeIndex.get(type)!;
}

/** An acknowledgement token a producer may attach to a report. */
export const ackSchema = z.union([z.string(), z.number()]);

function reportSchemaFor<T extends EventType>(type: T) {
  return z.strictObject({ type: z.literal(type), opts: eventOptsSchemas[type], ack: ackSchema.optional() });
}

/** What a producer writes on the report socket, one per line, per event type. */
export const reportSchemas = Object.fromEntries(EVENT_TYPES.map((type) => [type, reportSchemaFor(type)])) as {
  [T in EventType]: ReturnType<typeof reportSchemaFor<T>>;
};

function eventSchemaFor<T extends EventType>(type: T) {
  return z.strictObject({
    seq: z.int().min(1),
    time: z.iso.datetime(),
    type: z.literal(type),
    opts: eventOptsSchemas[type],
  });
}

/** What a subscriber receives: a report stamped with `seq` and `time`. */
export const eventSchema = z.discriminatedUnion(
  'type',
  EVENT_TYPES.map((type) => eventSchemaFor(type)) as unknown as [
    ReturnType<typeof eventSchemaFor<'management'>>,
    ...{ [T in EventType]: ReturnType<typeof eventSchemaFor<T>> }[EventType][],
  ],
);

export type Event = z.infer<typeof eventSchema>;
export type Report = z.infer<(typeof reportSchemas)[EventType]>;
