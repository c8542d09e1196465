// The bytes a producer sent for `opts`, reused as they are when they are exactly what
// JSON.stringify would write for the parsed value: compact JSON, as osctld, the Ruby client and
// `eventd report` send it. Serializing opts again cost about 0.4 µs an event for bytes already
// there. Anything JSON.stringify would write differently is left to it: whitespace, escapes it
// would not use (\/, \u00e9, upper-case hex), numbers it would spell otherwise (1.0, 1e3, -0, big
// integers), keys it would reorder (array indexes come first in a JS object) or drop (a key given
// twice), nesting deeper than a few levels, and lines not laid out as producers lay them out
// (`{"type":…,"opts":…}` with an optional `"ack"` last). test/protocol/passthrough.test.ts checks,
// on generated reports, that the line is byte for byte the one serializing makes.
//
// It is on every event's path, so it is written for speed: strings are crossed with indexOf, and
// keys are compared in place, allocating nothing.

/** Deeper than this, opts are serialized again (the scan keeps no stack of its own beyond it). */
const MAX_DEPTH = 32;

/** Where the next backslash of the line being scanned is (-1: not looked for yet; Infinity: none), so each is found once. */
let nextEscape = -1;

/** What may follow opts: the end of the report, or an ack (a number or a string without escapes) and the end. */
const ACK_TAIL = /,"ack":(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"[^"\\]*")\}$/y;

/**
 * `[start, end)` of the "opts" value in a report line of type `type`, if the line is laid out as
 * producers lay it out and opts is already canonical JSON; otherwise undefined.
 */
export function canonicalOptsSpan(line: string, type: string): [number, number] | undefined {
  const start = 18 + type.length; // {"type":"<type>","opts":
  if (!line.startsWith('{"type":"') || !line.startsWith(type, 9) || !line.startsWith('","opts":', 9 + type.length)) return undefined;
  const end = canonicalValueEnd(line, start);
  if (end < 0) return undefined;
  if (end === line.length - 1) return line.charCodeAt(end) === 0x7d ? [start, end] : undefined;
  ACK_TAIL.lastIndex = end;
  if (!ACK_TAIL.test(line)) return undefined;
  return [start, end];
}

/**
 * The end of the JSON value at `text[at]` if it is spelled as JSON.stringify would spell it, else -1
 * (as after a JSON.parse of `text`: raw control characters in strings are not looked for).
 */
export function canonicalValueEnd(text: string, at: number): number {
  nextEscape = -1;
  keyStackLength = 0;
  return value(text, at, 0);
}

/** The end of the canonical JSON value at `at`, or -1 if there is none there. */
function value(text: string, at: number, depth: number): number {
  const c = text.charCodeAt(at);
  if (c === 0x22) return string(text, at);
  if (c === 0x7b) return object(text, at, depth);
  if (c === 0x5b) return array(text, at, depth);
  if (c === 0x74) return text.startsWith('true', at) ? at + 4 : -1;
  if (c === 0x66) return text.startsWith('false', at) ? at + 5 : -1;
  if (c === 0x6e) return text.startsWith('null', at) ? at + 4 : -1;
  return canonicalIntegerEnd(text, at);
}

function object(text: string, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  at++;
  if (text.charCodeAt(at) === 0x7d) return at + 1;
  // This object's keys are kept from keyStack[base] on, as start and end pairs (a failed scan
  // leaves them: canonicalOptsSpan starts the stack again).
  const base = keyStackLength;
  for (;;) {
    const keyEnd = string(text, at);
    if (keyEnd < 0) return -1;
    // JavaScript orders array-index keys ("0", "17") first: JSON.stringify would move this one.
    const first = text.charCodeAt(at + 1);
    if (first >= 0x30 && first <= 0x39 && looksLikeIndex(text, at + 1, keyEnd - 1)) return -1;
    // A key given twice is kept once by JSON.parse. A canonical key has one spelling, so equal
    // text is an equal key; only keys of one length are compared. Past MAX_KEYS keys the
    // comparisons would grow with their square: such an object is serialized instead.
    if (keyStackLength - base >= 2 * MAX_KEYS || repeated(text, at, keyEnd, base)) return -1;
    keyStack[keyStackLength++] = at;
    keyStack[keyStackLength++] = keyEnd;
    if (text.charCodeAt(keyEnd) !== 0x3a) return -1;
    at = value(text, keyEnd + 1, depth + 1);
    if (at < 0) return -1;
    const c = text.charCodeAt(at);
    if (c === 0x7d) {
      keyStackLength = base;
      return at + 1;
    }
    if (c !== 0x2c) return -1;
    at++;
  }
}

/** Keys in one object past which it is serialized again (see object). */
const MAX_KEYS = 32;

/** The keys of the objects being scanned, innermost last: where each starts and ends (quotes included). */
const keyStack = new Int32Array(2 * MAX_KEYS * MAX_DEPTH);
let keyStackLength = 0;

/** Whether the key at [start, end) is one of those kept from keyStack[base] on. */
function repeated(text: string, start: number, end: number, base: number): boolean {
  const length = end - start;
  for (let k = base; k < keyStackLength; k += 2) {
    const other = keyStack[k]!;
    if (keyStack[k + 1]! - other !== length) continue;
    let i = 1;
    while (i < length - 1 && text.charCodeAt(start + i) === text.charCodeAt(other + i)) i++;
    if (i === length - 1) return true;
  }
  return false;
}

/** Whether text[start, end) may be an array index: up to 10 digits, "0" or without a leading 0 (a few too many is only a serialization). */
function looksLikeIndex(text: string, start: number, end: number): boolean {
  if (end - start > 10 || (text.charCodeAt(start) === 0x30 && end - start > 1)) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function array(text: string, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  at++;
  if (text.charCodeAt(at) === 0x5d) return at + 1;
  for (;;) {
    at = value(text, at, depth + 1);
    if (at < 0) return -1;
    const c = text.charCodeAt(at);
    if (c === 0x5d) return at + 1;
    if (c !== 0x2c) return -1;
    at++;
  }
}

/** The end of the string at `at` (after its closing quote); -1 if it is not as JSON.stringify writes it. */
function string(text: string, at: number): number {
  if (text.charCodeAt(at) !== 0x22) return -1;
  // Most keys and values are a few characters: read here, that is cheaper than a call to indexOf.
  const near = Math.min(at + SHORT_STRING, text.length);
  for (let i = at + 1; i < near; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) return escaped(text, at);
  }
  const close = text.indexOf('"', near);
  if (nextEscape !== Infinity && nextEscape <= at) {
    const found = text.indexOf('\\', at + 1);
    nextEscape = found < 0 ? Infinity : found;
  }
  // The common case: no escape in it (a raw control character would not have parsed).
  if (close > 0 && nextEscape > close) return close + 1;
  return escaped(text, at);
}

/** Characters of a string read one by one before looking further with indexOf. */
const SHORT_STRING = 24;

/** string(), for a string with an escape in it: each escape must be one JSON.stringify writes. */
function escaped(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c !== 0x5c) continue;
    const e = text.charCodeAt(++i);
    // JSON.stringify writes \" \\ \b \f \n \r \t, and \u00xx (lower case) for the other controls.
    if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) continue;
    if (e !== 0x75 || text.charCodeAt(i + 1) !== 0x30 || text.charCodeAt(i + 2) !== 0x30) return -1;
    const high = text.charCodeAt(i + 3);
    const low = text.charCodeAt(i + 4);
    if ((high !== 0x30 && high !== 0x31) || !((low >= 0x30 && low <= 0x39) || (low >= 0x61 && low <= 0x66))) return -1;
    const code = (high - 0x30) * 16 + (low <= 0x39 ? low - 0x30 : low - 0x57);
    if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
    i += 4;
  }
  return -1;
}

/** The end of a number at `at`, if it is an integer of at most 15 digits (exact in a double, written back the same), not -0; else -1. */
export function canonicalIntegerEnd(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === 0x2d) i++;
  const digitsStart = i;
  for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i));
  const digits = i - digitsStart;
  if (digits === 0 || digits > 15) return -1;
  const c = text.charCodeAt(i);
  if (c === 0x2e || c === 0x65 || c === 0x45) return -1;
  if (text.charCodeAt(digitsStart) === 0x30 && (digits > 1 || digitsStart > at)) return -1; // 01, -0
  return i;
}
