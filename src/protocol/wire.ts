// Builders for every line eventd writes. Each line is built once and shared by all the
// subscribers that receive it, so these sit on the hot path: plain string concatenation.
import type { EventOpts, EventType } from './events.js';
import type { WireIssue } from './issues.js';
import type { Ack } from './report.js';

const OPTS_KEY = ',"opts":';

/** The native event line. Throws a RangeError if `opts` is nested too deeply to serialize. */
export function eventLine(seq: number, time: string, type: EventType, opts: EventOpts): string {
  // `type` is one of the known identifiers: it never needs escaping.
  return `{"seq":${seq},"time":"${time}","type":"${type}"${OPTS_KEY}${JSON.stringify(opts)}}\n`;
}

/** Re-frames a native event line the way osctld's `event_subscribe` sends events. */
export function osctldLine(nativeLine: string, type: EventType): string {
  const opts = nativeLine.slice(nativeLine.indexOf(OPTS_KEY) + OPTS_KEY.length, -2);
  return `{"status":true,"response":{"type":"${type}","opts":${opts}}}\n`;
}

/** The `opts` object of a native event line. */
export function parseEventOpts(nativeLine: string): Record<string, unknown> {
  return JSON.parse(nativeLine.slice(nativeLine.indexOf(OPTS_KEY) + OPTS_KEY.length, -2)) as Record<string, unknown>;
}

export function ackLine(ack: Ack, seq: number): string {
  return `{"status":true,"ack":${JSON.stringify(ack)},"seq":${seq}}\n`;
}

export function reportErrorLine(lineNo: number, message: string, issues: readonly WireIssue[], ack?: Ack): string {
  const body = ack === undefined ? { status: false, line: lineNo, message, issues } : { status: false, ack, line: lineNo, message, issues };
  return `${JSON.stringify(body)}\n`;
}

export function okLine(response: unknown, extra?: Record<string, unknown>): string {
  return `${JSON.stringify({ status: true, response, ...extra })}\n`;
}

export function errorLine(message: string): string {
  return `${JSON.stringify({ status: false, message })}\n`;
}
