// Validates one report line from a producer. Validation only decides; what is published is the
// producer's own parsed value, so free-form data (management opts) reaches subscribers unchanged.
import { EVENT_TYPES, ackSchema, isEventType, reportSchemas, type EventOpts, type EventType } from './events.js';
import { summarizeIssues, toWireIssues, type WireIssue } from './issues.js';

export type Ack = string | number;

export interface AcceptedReport {
  ok: true;
  type: EventType;
  opts: EventOpts;
  ack?: Ack;
}

export interface RejectedReport {
  ok: false;
  ack?: Ack;
  message: string;
  issues: WireIssue[];
}

export type ReportResult = AcceptedReport | RejectedReport;

/** A report refused by the schema (checked locally, before sending) or by the daemon. */
export class ReportRejectedError extends Error {
  constructor(
    message: string,
    readonly issues: WireIssue[],
    readonly by: 'local' | 'daemon',
  ) {
    super(message);
    this.name = 'ReportRejectedError';
  }
}

const KNOWN_TYPES = EVENT_TYPES.join(', ');

export function rejected(message: string, issues: WireIssue[] = [], ack?: Ack): RejectedReport {
  return ack === undefined ? { ok: false, message, issues } : { ok: false, ack, message, issues };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses JSON without throwing; the error says where the text went wrong. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

export function parseReport(text: string): ReportResult {
  const json = parseJson(text);
  if (!json.ok) return rejected(`Line is not valid JSON: ${json.message}`);
  const report = json.value;
  if (!isPlainObject(report)) {
    return rejected('A report must be a JSON object like {"type":"state","opts":{...}}');
  }
  const ack = Object.hasOwn(report, 'ack') && ackSchema.safeParse(report.ack).success ? (report.ack as Ack) : undefined;
  const { type } = report;
  if (!isEventType(type)) {
    const issue =
      type === undefined
        ? { path: 'type', message: 'is required' }
        : { path: 'type', message: `must be one of ${KNOWN_TYPES} (got ${JSON.stringify(type)})` };
    const subject = type === undefined ? 'Report has no event type' : `Unknown event type ${JSON.stringify(type)}`;
    return rejected(`${subject}; known types: ${KNOWN_TYPES}`, [issue], ack);
  }
  const result = reportSchemas[type].safeParse(report, { reportInput: true });
  if (!result.success) {
    const issues = toWireIssues(result.error.issues);
    return rejected(summarizeIssues(`Invalid ${type} report`, issues), issues, ack);
  }
  return ack === undefined
    ? { ok: true, type, opts: report.opts as EventOpts }
    : { ok: true, type, opts: report.opts as EventOpts, ack };
}
