// The single source of truth for what an event is. Every type in eventd that describes an event
// is inferred from these schemas; the JSON Schema printed by `eventd schema` is generated from them.
import { z } from 'zod';
import { CONTAINER_STATES, DB_OBJECTS, EVENT_TYPES, POOL_NAME_MAX, type EventType } from './event-types.js';

export {
  CONTAINER_STATES,
  DAEMON_SHUTDOWN_OPTS,
  DB_OBJECTS,
  EVENT_TYPES,
  eventTypeCode,
  isDaemonShutdown,
  isEventType,
  POOL_NAME_MAX,
  type EventType,
} from './event-types.js';

/**
 * Every string an event carries is well-formed Unicode: a lone surrogate (`"\ud800"`, valid JSON)
 * cannot be encoded as UTF-8, and Ruby's JSON.parse (osctl's client) refuses the whole line, so one
 * such report would cut every Ruby subscriber off.
 */
const WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate, e.g. "\\ud800" without its pair)';
const name = z
  .string()
  .min(1)
  .refine((value) => value.isWellFormed(), { error: WELL_FORMED });

/**
 * A ZFS pool name, as `zpool create` allows (openzfs, zfs_namecheck.c pool_namecheck): a letter,
 * then letters, digits, `_`, `-`, `.`, `:` or spaces, under 256 bytes (POOL_NAME_MAX). Pools are
 * counted by name (stats, metric labels): a bounded name keeps those bounded whatever a producer sends.
 */
const POOL_NAME = /^[A-Za-z][A-Za-z0-9_.: -]*$/;
const pool = z
  .string()
  .min(1, { abort: true })
  .max(POOL_NAME_MAX, { abort: true })
  .regex(POOL_NAME, { error: 'must be a ZFS pool name: a letter, then letters, digits, "_", "-", ".", ":" or spaces' });

/** `pool` and `id` identify a container in every container event. */
const container = { pool, id: name };

// What each field may hold follows osctld's `Eventd.report` call sites (vpsfreecz/vpsadminos,
// osctld/lib, commit 7d64ad8c); docs/protocol.md names the call site behind every value.

const managementState = z.enum(['run', 'done', 'failed']);

/** Any value, but the key must be there (osctld sends null for a value it does not have). */
const present = z
  .unknown()
  .refine((value) => value !== undefined, { error: 'is required', abort: true })
  .check(wellFormedInside);

/** Free-form JSON (management opts): every key and string in it well-formed, the first bad one named. */
function wellFormedInside(ctx: z.core.ParsePayload<unknown>): void {
  const found = illFormedAt(ctx.value);
  if (found !== undefined) ctx.issues.push({ code: 'custom', message: WELL_FORMED, input: found.text, path: found.path, continue: true });
}

/** The first string or key in `value` with a lone surrogate, and where it is (iterative: values may nest deeply). */
export function illFormedAt(value: unknown): { path: (string | number)[]; text: string } | undefined {
  // Each entry links to its parent's step: building every path as it goes would cost the depth squared.
  type Step = { key: string | number; parent: Step | undefined } | undefined;
  const pathOf = (step: Step) => {
    const path: (string | number)[] = [];
    for (let at = step; at; at = at.parent) path.unshift(at.key);
    return path;
  };
  const stack: [unknown, Step][] = [[value, undefined]];
  while (stack.length > 0) {
    const [current, step] = stack.pop()!;
    if (typeof current === 'string') {
      if (!current.isWellFormed()) return { path: pathOf(step), text: current };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], { key: i, parent: step }]);
    } else if (typeof current === 'object' && current !== null) {
      const keys = Object.keys(current);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        if (!key.isWellFormed()) return { path: pathOf({ key, parent: step }), text: key };
        stack.push([(current as Record<string, unknown>)[key], { key, parent: step }]);
      }
    }
  }
  return undefined;
}

const management = z.union([
  // A command osctld accepted: it has an id; `opts` is what the client sent (null when it sent none).
  // First: nearly every management report has this shape, and a union tries its shapes in order.
  z.strictObject({
    id: z.union([name, z.int()]),
    cmd: name,
    opts: z.record(z.string(), z.unknown()).check(wellFormedInside).nullable(),
    state: managementState,
  }),
  // A request osctld refused before giving it an id (unsupported or malformed command): it
  // reports the client's `cmd` and `opts` as they came, whatever they were.
  z.strictObject({
    id: z.null(),
    // Anything JSON holds (a report line is JSON; report() checks for non-finite numbers). Not
    // z.json(): it recurses, and a deeply nested value would overflow the stack.
    cmd: present,
    opts: present,
    state: z.literal('failed', { error: 'must be "failed" when id is null (osctld refused the request before giving it an id)' }),
  }),
]);

const netif = { ...container, name };

export const eventOptsSchemas = {
  management,
  osctld_shutdown: z.strictObject({}),
  state: z.strictObject({ ...container, state: z.enum(CONTAINER_STATES) }),
  db: z.strictObject({
    object: z.enum(DB_OBJECTS),
    ...container,
    action: z.enum(['add', 'remove']),
  }),
  ct_scheduled: z.strictObject({ ...container, cpu_package_inuse: z.int().min(0) }),
  ct_init_pid: z.strictObject({ ...container, init_pid: z.int().min(1) }),
  // osctld knows the host-side `veth` only when an interface comes up; `new_name` exists exactly
  // when an interface is renamed. (`veth` stays allowed on the other actions: protocol 1.0 required it.)
  ct_netif: z.discriminatedUnion('action', [
    z.strictObject({ ...netif, action: z.literal('up'), veth: name }),
    z.strictObject({ ...netif, action: z.enum(['add', 'remove', 'down']), veth: name.optional() }),
    z.strictObject({ ...netif, action: z.literal('rename'), new_name: name, veth: name.optional() }),
  ]),
  ct_exit: z.strictObject({ ...container, exit_type: z.enum(['halt', 'reboot']) }),
} as const satisfies Record<EventType, z.ZodType>;

/** The fields an object schema, or any shape of a union of them, may have. */
function fieldNames(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  if ('shape' in schema) return Object.keys((schema as { shape: object }).shape);
  if ('options' in schema) return [...new Set((schema as { options: unknown[] }).options.flatMap(fieldNames))];
  return [];
}

/** The fields each event type's opts may have, over all its shapes (for error messages). */
export const OPTS_FIELDS = Object.fromEntries(
  Object.entries(eventOptsSchemas).map(([type, schema]) => [type, fieldNames(schema)]),
) as Record<EventType, string[]>;
export type EventOpts<T extends EventType = EventType> = z.infer<(typeof eventOptsSchemas)[T]>;

/** An acknowledgement token a producer may attach to a report. */
export const ackSchema = z.union([z.string(), z.number()]);

function reportSchemaFor<T extends EventType>(type: T) {
  return z.strictObject({ type: z.literal(type), opts: eventOptsSchemas[type], ack: ackSchema.optional() });
}

/** What a producer writes on the report socket, one per line, per event type. */
export const reportSchemas = Object.fromEntries(EVENT_TYPES.map((type) => [type, reportSchemaFor(type)])) as {
  [T in EventType]: ReturnType<typeof reportSchemaFor<T>>;
};

/**
 * What subscribers may receive in opts: what producers report, except that the daemon announces
 * its own shutdown as osctld_shutdown with `source: "eventd"`. A producer's osctld_shutdown (osctld
 * stopping while eventd goes on) has empty opts, and no producer can claim the source: the report
 * schema has no such field.
 */
const eventOnlyOptsSchemas = {
  ...eventOptsSchemas,
  osctld_shutdown: z.strictObject({ source: z.literal('eventd').optional() }),
} as const;

function eventSchemaFor<T extends EventType>(type: T) {
  return z.strictObject({
    seq: z.int().min(1),
    time: z.iso.datetime(),
    type: z.literal(type),
    opts: eventOnlyOptsSchemas[type],
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
