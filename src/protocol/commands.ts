// The commands a subscriber may send on the events socket. Nothing else is accepted there:
// subscribers can never publish.
import { z } from 'zod';
import { EVENT_TYPES } from './events.js';
import { summarizeIssues, toWireIssues } from './issues.js';
import { isPlainObject, parseJson } from './json.js';

const eventTypeSchema = z.enum(EVENT_TYPES);
const filterValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A filter is matched against every event: its size is bounded (each key's values are a Set). */
export const FILTER_LIMITS = { keys: 32, valuesPerKey: 1024 } as const;

export const subscribeOptsSchema = z.strictObject({
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
  format: z.enum(['native', 'osctld']).optional(),
});

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

const COMMAND_NAMES = Object.keys(commandSchemas).join(', ');

export function parseCommand(text: string, faultInjection = false): { ok: true; command: Command } | { ok: false; message: string } {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, message: `Line is not valid JSON: ${json.message}` };
  const value = json.value;
  if (!isPlainObject(value)) return { ok: false, message: 'A command must be a JSON object like {"cmd":"event_subscribe"}' };
  const { cmd } = value;
  const schemas = faultInjection ? { ...commandSchemas, ...faultCommandSchemas } : commandSchemas;
  if (typeof cmd !== 'string' || !Object.hasOwn(schemas, cmd)) {
    const got = cmd === undefined ? 'no "cmd" field' : `unknown command ${JSON.stringify(cmd)}`;
    return { ok: false, message: `Expected a command (${COMMAND_NAMES}), got ${got}; the events socket does not accept reports` };
  }
  const result = schemas[cmd as keyof typeof schemas].safeParse(value, { reportInput: true });
  if (!result.success) return { ok: false, message: summarizeIssues(`Invalid ${cmd} command`, toWireIssues(result.error.issues)) };
  // Keep the client's own values (zod drops keys such as "__proto__" from records).
  return { ok: true, command: value as Command };
}

/**
 * `event_subscribe` as osctl sends it to osctld: `opts` may hold `type` and `opts` filters;
 * other keys (osctl adds `cli`) are ignored, as osctld ignores them.
 */
const osctldSubscribeSchema = z.object({
  cmd: z.literal('event_subscribe'),
  opts: z.object({ type: subscribeOptsSchema.shape.type, opts: subscribeOptsSchema.shape.opts }).nullish(),
});

/** A command on the osctld-compatible socket, where `event_subscribe` is the only one. */
export function parseOsctldCommand(text: string): { ok: true; opts: SubscribeOpts } | { ok: false; message: string } {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, message: `Line is not valid JSON: ${json.message}` };
  const value = json.value;
  if (!isPlainObject(value)) return { ok: false, message: 'A command must be a JSON object like {"cmd":"event_subscribe","opts":{}}' };
  if (value.cmd !== 'event_subscribe') {
    const got = value.cmd === undefined ? 'no "cmd" field' : `unsupported command ${JSON.stringify(value.cmd)}`;
    return { ok: false, message: `Expected event_subscribe, got ${got}: this osctld-compatible socket serves events only` };
  }
  const result = osctldSubscribeSchema.safeParse(value, { reportInput: true });
  if (!result.success) return { ok: false, message: summarizeIssues('Invalid event_subscribe command', toWireIssues(result.error.issues)) };
  // The client's own filter values (zod drops keys such as "__proto__" from records).
  const opts = (value.opts ?? {}) as SubscribeOpts;
  return { ok: true, opts: { type: opts.type, opts: opts.opts } };
}
