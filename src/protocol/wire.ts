// Builders for every line eventd writes. Each line is built once and shared by all the
// subscribers that receive it, so these sit on the hot path: plain string concatenation.
import type { EventOpts, EventType } from './events.js';
import type { WireIssue } from './issues.js';
import type { Ack } from './rejection.js';

const OPTS_KEY = ',"opts":';

/** The native event line. Throws a RangeError if `opts` is nested too deeply to serialize. */
export function eventLine(seq: number, time: string, type: EventType, opts: EventOpts): string {
  return eventPrefix(seq, time) + eventTail(type, opts);
}

/** An event line's start, which only the sequencer (the main thread) can write. */
export function eventPrefix(seq: number, time: string): string {
  return `{"seq":${seq},"time":"${time}",`;
}

/**
 * The rest of an event line: a report serialized by the worker that validated it, before it has a
 * seq and a time. Throws a RangeError if `opts` is nested too deeply to serialize.
 */
export function eventTail(type: EventType, opts: EventOpts): string {
  // `type` is one of the known identifiers: it never needs escaping.
  return `"type":"${type}"${OPTS_KEY}${JSON.stringify(opts)}}\n`;
}

/** The longest eventPrefix: seq at 16 digits (2^53), time at its 24 characters. */
export const MAX_EVENT_PREFIX_BYTES = eventPrefix(Number.MAX_SAFE_INTEGER, new Date(0).toISOString()).length;

/** A valid report that cannot become an event line; the message says why. */
export class UnpublishableError extends Error {}

/**
 * eventTail, or an UnpublishableError if opts is nested too deeply to serialize or the event line
 * (after a start of `prefixBytes`, without its newline) would be longer than `maxLineBytes`.
 */
export function checkedEventTail(type: EventType, opts: EventOpts, maxLineBytes: number, prefixBytes: number): string {
  let tail: string;
  try {
    tail = eventTail(type, opts);
  } catch (error) {
    if (error instanceof RangeError) throw new UnpublishableError('opts is nested too deeply');
    throw error;
  }
  // A UTF-16 length is at most the UTF-8 byte count: only a long line needs counting.
  if ((prefixBytes + tail.length - 1) * 3 > maxLineBytes) checkEventBytes(prefixBytes + Buffer.byteLength(tail) - 1, maxLineBytes);
  return tail;
}

/** An UnpublishableError if an event line of `bytes` (without its newline, its start counted at its longest) would pass `maxLineBytes`. */
export function checkEventBytes(bytes: number, maxLineBytes: number): void {
  if (bytes > maxLineBytes) {
    throw new UnpublishableError(`the event would be up to ${bytes} bytes with its seq and time, over the line limit of ${maxLineBytes}`);
  }
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
