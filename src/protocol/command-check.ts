// Reads a subscriber's command line without zod, so that a worker thread that reads no reports
// does not load it (zod and the schemas are about 10 MiB of each thread's memory). It accepts
// exactly what the zod schemas in commands.ts accept (test/protocol/command-check.test.ts compares
// them on random commands); for a command they refuse it only says so, and the schemas, which
// the worker then loads, say why (parse-command.ts).
import { COMMAND_NAMES, FAULT_COMMAND_NAMES, FILTER_LIMITS, isIsoTime, RUN_ID_MAX } from './command-limits.js';
import type { Command, SubscribeOpts } from './commands.js';
import { EVENT_TYPES } from './event-types.js';
import { isPlainObject, parseJson } from './json.js';

/** A command line read: valid, refused with a message, or refused by its schema (`why`: parse-command.ts asks the schema). */
export type CommandRead<T> = { ok: true; command: T } | { ok: false; message: string } | { ok: false; why: 'schema' };

/** A command line on a socket of either dialect (osctld's event_subscribe as the native one, in its format). */
export function readCommandFor(dialect: 'native' | 'osctld', text: string, faultInjection = false): CommandRead<Command> {
  if (dialect === 'native') return readCommand(text, faultInjection);
  const read = readOsctldCommand(text);
  return read.ok ? { ok: true, command: { cmd: 'event_subscribe', opts: { ...read.command, format: 'osctld' } } } : read;
}

export function readCommand(text: string, faultInjection = false): CommandRead<Command> {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, message: `Line is not valid JSON: ${json.message}` };
  const value = json.value;
  if (!isPlainObject(value)) return { ok: false, message: 'A command must be a JSON object like {"cmd":"event_subscribe"}' };
  const { cmd } = value;
  const known: readonly string[] = faultInjection ? [...COMMAND_NAMES, ...FAULT_COMMAND_NAMES] : COMMAND_NAMES;
  if (typeof cmd !== 'string' || !known.includes(cmd)) {
    const got = cmd === undefined ? 'no "cmd" field' : `unknown command ${JSON.stringify(cmd)}`;
    const message = `Expected a command (${COMMAND_NAMES.join(', ')}), got ${got}; the events socket does not accept reports`;
    return { ok: false, message };
  }
  // The client's own values are kept (zod would drop keys such as "__proto__" from records).
  return isValidCommand(cmd, value) ? { ok: true, command: value as Command } : { ok: false, why: 'schema' };
}

/** `event_subscribe` as osctl sends it to osctld (see commands.ts, parseOsctldCommand). */
export function readOsctldCommand(text: string): CommandRead<SubscribeOpts> {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, message: `Line is not valid JSON: ${json.message}` };
  const value = json.value;
  if (!isPlainObject(value)) return { ok: false, message: 'A command must be a JSON object like {"cmd":"event_subscribe","opts":{}}' };
  if (value.cmd !== 'event_subscribe') {
    const got = value.cmd === undefined ? 'no "cmd" field' : `unsupported command ${JSON.stringify(value.cmd)}`;
    return { ok: false, message: `Expected event_subscribe, got ${got}: this osctld-compatible socket serves events only` };
  }
  // Other keys, in the command and in its opts (osctl adds `cli`), are ignored, as osctld ignores them.
  const opts = value.opts;
  if (opts === undefined || opts === null) return { ok: true, command: { type: undefined, opts: undefined } };
  if (!isPlainObject(opts) || !optional(opts.type, isTypeFilter) || !optional(opts.opts, isOptsFilter)) return { ok: false, why: 'schema' };
  return { ok: true, command: { type: opts.type as SubscribeOpts['type'], opts: opts.opts as SubscribeOpts['opts'] } };
}

function isValidCommand(cmd: string, value: Record<string, unknown>): boolean {
  switch (cmd) {
    case 'event_subscribe':
      return onlyKeys(value, ['cmd', 'opts']) && optional(value.opts, isSubscribeOpts);
    case 'debug_block_worker':
      return onlyKeys(value, ['cmd', 'ms']) && isInt(value.ms, 1, 60_000);
    default:
      return onlyKeys(value, ['cmd']);
  }
}

function isSubscribeOpts(value: unknown): boolean {
  return (
    isPlainObject(value) &&
    onlyKeys(value, ['type', 'opts', 'since', 'since_time', 'run', 'format']) &&
    optional(value.type, isTypeFilter) &&
    optional(value.opts, isOptsFilter) &&
    optional(value.since, (since) => isInt(since, 0, Number.MAX_SAFE_INTEGER)) &&
    optional(value.since_time, isIsoTime) &&
    (value.since === undefined || value.since_time === undefined) &&
    optional(value.run, (run) => typeof run === 'string' && run.length >= 1 && run.length <= RUN_ID_MAX) &&
    optional(value.format, (format) => format === 'native' || format === 'osctld')
  );
}

function isTypeFilter(value: unknown): boolean {
  return isEventTypeName(value) || (Array.isArray(value) && value.length > 0 && value.every(isEventTypeName));
}

function isOptsFilter(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  // As zod reads a record: a "__proto__" key is skipped, neither checked nor counted.
  const keys = Object.keys(value).filter((key) => key !== '__proto__');
  return (
    keys.length <= FILTER_LIMITS.keys &&
    keys.every((key) => {
      const values = value[key];
      return isFilterValue(values) || (Array.isArray(values) && values.length <= FILTER_LIMITS.valuesPerKey && values.every(isFilterValue));
    })
  );
}

function isFilterValue(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function isEventTypeName(value: unknown): boolean {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

function isInt(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(value).every((key) => allowed.includes(key));
}

/** Absent (a JSON value is never undefined) or valid. */
function optional(value: unknown, valid: (value: unknown) => boolean): boolean {
  return value === undefined || valid(value);
}
