// Validates one report line from a producer. Validation only decides; what is published is the
// producer's own parsed value, so free-form data (management opts) reaches subscribers unchanged.
import { z } from 'zod';
import { isPlainObject, parseJson } from './json.js';
import { EVENT_TYPES, OPTS_FIELDS, ackSchema, isEventType, reportSchemas, type EventOpts, type EventType } from './events.js';
import { summarizeIssues, toWireIssues } from './issues.js';
import { rejected, type Ack, type RejectedReport } from './rejection.js';

export type { Ack, RejectedReport } from './rejection.js';

export interface AcceptedReport {
  ok: true;
  type: EventType;
  opts: EventOpts;
  ack?: Ack;
}

export type ReportResult = AcceptedReport | RejectedReport;

const KNOWN_TYPES = EVENT_TYPES.join(', ');

/**
 * The report schemas compiled to plain functions (zod's `z.compile`): the same checks about five
 * times faster on valid reports, which is nearly every line. A schema zod cannot compile keeps its
 * runtime parser; a refused report is checked again by the runtime schema to say why. Each is
 * compiled on first use: a thread that never reads a report (most workers) does not carry them
 * (about 2.4 MiB of memory per thread for all eight).
 */
const reportValidators = new Map<EventType, z.core.$ZodType>();

/** Whether a report is valid by its type's schema (exported for the test that compares it with the runtime parser). */
export function isValidReport(type: EventType, report: unknown): boolean {
  let validator = reportValidators.get(type);
  if (validator === undefined) {
    validator = z.compile(reportSchemas[type]);
    reportValidators.set(type, validator);
  }
  return z.validate(validator, report);
}

/** An error line lists at most this many issues: 100,000 unknown keys must not make a 5 MB reply. */
export const MAX_WIRE_ISSUES = 20;

export function parseReport(text: string): ReportResult {
  const json = parseJson(text);
  if (!json.ok) return rejected('json', `Line is not valid JSON: ${json.message}`);
  return validateReport(json.value);
}

/** Checks a report value (parsed from a line, or handed over in-process) against its schema. */
export function validateReport(report: unknown): ReportResult {
  if (!isPlainObject(report)) {
    return rejected('json', 'A report must be a JSON object like {"type":"state","opts":{...}}');
  }
  const ack = Object.hasOwn(report, 'ack') && ackSchema.safeParse(report.ack).success ? (report.ack as Ack) : undefined;
  const { type } = report;
  if (type === undefined && Object.hasOwn(report, 'cmd')) {
    const issue = { path: 'cmd', message: 'is a command for the events socket' };
    return rejected(
      'type',
      'Commands such as {"cmd":"stats"} go to the events socket; ' +
        'this is the report socket, where each line is a report like {"type":"state","opts":{...}}',
      [issue],
      ack,
    );
  }
  if (!isEventType(type)) {
    const issue =
      type === undefined
        ? { path: 'type', message: 'is required' }
        : { path: 'type', message: `must be one of ${KNOWN_TYPES} (got ${JSON.stringify(type)})` };
    const subject = type === undefined ? 'Report has no event type' : `Unknown event type ${JSON.stringify(type)}`;
    return rejected('type', `${subject}; known types: ${KNOWN_TYPES}`, [issue], ack);
  }
  // Valid reports take the compiled fast path; only a failure is parsed again to quote the bad input
  // (`reportInput` makes every parse about 4 times slower).
  if (!isValidReport(type, report)) {
    const issues = toWireIssues(reportSchemas[type].safeParse(report, { reportInput: true }).error!.issues).map((issue) =>
      // A field the type never has: say which ones it has.
      issue.message === 'is not a known field' && /^opts\.[^.]+$/.test(issue.path) && !OPTS_FIELDS[type].includes(issue.path.slice(5))
        ? { ...issue, message: `is not a known field (${type} has ${OPTS_FIELDS[type].join(', ') || 'no fields'})` }
        : issue,
    );
    return rejected('schema', summarizeIssues(`Invalid ${type} report`, issues), issues.slice(0, MAX_WIRE_ISSUES), ack);
  }
  // Free-form data is published as parsed; a number JSON cannot hold (1e400) would become null.
  const overflow = type === 'management' ? managementOverflow(report.opts as { cmd: unknown; opts: unknown }) : undefined;
  if (overflow !== undefined) {
    const issue = { path: overflow, message: 'is a number too large to represent' };
    return rejected('schema', summarizeIssues(`Invalid ${type} report`, [issue]), [issue], ack);
  }
  return ack === undefined ? { ok: true, type, opts: report.opts as EventOpts } : { ok: true, type, opts: report.opts as EventOpts, ack };
}

/** Where a management report's free-form values (a refused request's cmd, and opts) hold a number too large. */
function managementOverflow({ cmd, opts }: { cmd: unknown; opts: unknown }): string | undefined {
  if (typeof cmd === 'object' && cmd !== null) return findNonFinite(cmd, ['opts', 'cmd']) ?? findNonFinite(opts, ['opts', 'opts']);
  if (typeof cmd === 'number' && !Number.isFinite(cmd)) return 'opts.cmd';
  return findNonFinite(opts, ['opts', 'opts']);
}

/** The dotted path of the first number in `value` that parsed to ±Infinity, if any (no recursion). */
function findNonFinite(value: unknown, path: string[]): string | undefined {
  type Step = { key: string; parent: Step | undefined } | undefined;
  const stack: [unknown, Step][] = [[value, undefined]];
  while (stack.length > 0) {
    const [current, step] = stack.pop()!;
    if (typeof current === 'number' && !Number.isFinite(current)) {
      const keys: string[] = [];
      for (let at = step; at; at = at.parent) keys.unshift(at.key);
      return [...path, ...keys].join('.');
    }
    if (typeof current === 'object' && current !== null) {
      for (const key of Object.keys(current)) stack.push([(current as Record<string, unknown>)[key], { key, parent: step }]);
    }
  }
  return undefined;
}
