// The commands a subscriber may send on the events socket. Nothing else is accepted there:
// subscribers can never publish. Workers read commands with command-check.ts, which accepts what
// these schemas accept without loading zod; these schemas say why a command is refused
// (parse-command.ts).
import { z } from 'zod';
import { FILTER_LIMITS, isIsoTime, RUN_ID_MAX } from './command-limits.js';
import { EVENT_TYPES } from './event-types.js';

const eventTypeSchema = z.enum(EVENT_TYPES);
const filterValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const subscribeOptsSchema = z
  .strictObject({
    type: z.union([eventTypeSchema, z.array(eventTypeSchema).min(1)]).optional(),
    opts: z
      .record(
        z.string(),
        z.union([
          filterValue,
          z.array(filterValue).max(FILTER_LIMITS.valuesPerKey, { error: `must list at most ${FILTER_LIMITS.valuesPerKey} values` }),
        ]),
      )
      .refine((opts) => Object.keys(opts).length <= FILTER_LIMITS.keys, { error: `must have at most ${FILTER_LIMITS.keys} keys` })
      .optional(),
    since: z.int().min(0).optional(),
    /** Replay from the first event at or after this time (ISO 8601 with its zone), instead of a seq. */
    since_time: z.string().refine(isIsoTime, { error: 'must be an ISO 8601 time with its zone, such as 2026-11-24T22:00:00Z' }).optional(),
    /** The run `since` was seen in (the `run` of an earlier reply): from another run, `since` counts from 0. */
    run: z.string().min(1).max(RUN_ID_MAX).optional(),
    format: z.enum(['native', 'osctld']).optional(),
  })
  .refine((opts) => opts.since === undefined || opts.since_time === undefined, { error: 'give since or since_time, not both' });

export const commandSchemas = {
  event_subscribe: z.strictObject({ cmd: z.literal('event_subscribe'), opts: subscribeOptsSchema.optional() }),
  stats: z.strictObject({ cmd: z.literal('stats') }),
  /** The counters as Prometheus text (what `--metrics-listen` serves), as a JSON string. */
  metrics: z.strictObject({ cmd: z.literal('metrics') }),
} as const;

/**
 * Only honoured when the daemon runs with EVENTD_FAULT_INJECTION=1 (tests of crash recovery and
 * flow control): crash the worker thread serving this connection, or block it for `ms`.
 */
export const faultCommandSchemas = {
  debug_crash_worker: z.strictObject({ cmd: z.literal('debug_crash_worker') }),
  debug_block_worker: z.strictObject({ cmd: z.literal('debug_block_worker'), ms: z.int().min(1).max(60_000) }),
} as const;

export type SubscribeOpts = z.infer<typeof subscribeOptsSchema>;
/** One value a filter key may match (a list of them matches any). */
export type FilterValue = z.infer<typeof filterValue>;
export type FaultCommand = z.infer<(typeof faultCommandSchemas)[keyof typeof faultCommandSchemas]>;
export type Command = z.infer<(typeof commandSchemas)[keyof typeof commandSchemas]> | FaultCommand;

export type ParsedCommand = { ok: true; command: Command } | { ok: false; message: string };

/**
 * `event_subscribe` as osctl sends it to osctld: `opts` may hold `type` and `opts` filters;
 * other keys (osctl adds `cli`) are ignored, as osctld ignores them.
 */
export const osctldSubscribeSchema = z.object({
  cmd: z.literal('event_subscribe'),
  opts: z.object({ type: subscribeOptsSchema.shape.type, opts: subscribeOptsSchema.shape.opts }).nullish(),
});
