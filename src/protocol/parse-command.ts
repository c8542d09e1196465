// A subscriber's command line, read by the zod-free check (command-check.ts) and, where that
// refuses it by its schema, by the schema (commands.ts), which says why. Workers load this only
// for a command the check refuses.
import { readCommandFor } from './command-check.js';
import {
  commandSchemas,
  faultCommandSchemas,
  osctldSubscribeSchema,
  type Command,
  type ParsedCommand,
  type SubscribeOpts,
} from './commands.js';
import { summarizeIssues, toWireIssues } from './issues.js';

const nativeSchemas = { ...commandSchemas, ...faultCommandSchemas };

/**
 * A command line on a socket of either dialect (osctld's event_subscribe as the native one, in
 * its format): valid, or refused with a message that says why. Where the zod-free check refuses
 * it by its schema, the schema is asked why (and has the last word).
 */
export function parseCommandFor(dialect: 'native' | 'osctld', text: string, faultInjection = false): ParsedCommand {
  const read = readCommandFor(dialect, text, faultInjection);
  if (read.ok || 'message' in read) return read;
  // The check has read the line as a JSON object with a known cmd (event_subscribe on the osctld socket).
  const value = JSON.parse(text) as { cmd: keyof typeof nativeSchemas; opts?: SubscribeOpts | null };
  const schema = dialect === 'osctld' ? osctldSubscribeSchema : nativeSchemas[value.cmd];
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) return { ok: false, message: summarizeIssues(`Invalid ${value.cmd} command`, toWireIssues(result.error.issues)) };
  if (dialect === 'native') return { ok: true, command: value as Command };
  return { ok: true, command: { cmd: 'event_subscribe', opts: { type: value.opts?.type, opts: value.opts?.opts, format: 'osctld' } } };
}

/** A command line on the events socket (parseCommandFor, native dialect). */
export function parseCommand(text: string, faultInjection = false): ParsedCommand {
  return parseCommandFor('native', text, faultInjection);
}
