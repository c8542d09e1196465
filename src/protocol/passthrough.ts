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
// keys are compared by a hash (two different keys with one hash only cost a serialization).

/** Deeper than this, opts are serialized again (the scan keeps no stack of its own beyond it). */
const MAX_DEPTH = 32;

/** Where the next backslash of the line being scanned is (-1: not looked for yet; Infinity: none), so each is found once. */
let nextEscape = -1;

/** What may follow opts: the end of the report, or an ack (a number or a string without escapes) and the end. */
const ACK_TAIL = /^,"ack":(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"[^"\\]*")\}$/;

/**
 * `[start, end)` of the "opts" value in a report line of type `type`, if the line is laid out as
 * producers lay it out and opts is already canonical JSON; otherwise undefined.
 */
export function canonicalOptsSpan(line: string, type: string): [number, number] | undefined {
  const start = 18 + type.length; // {"type":"<type>","opts":
  if (!line.startsWith('{"type":"') || !line.startsWith(type, 9) || !line.startsWith('","opts":', 9 + type.length)) return undefined;
  nextEscape = -1;
  const end = value(line, start, 0);
  if (end < 0) return undefined;
  if (end === line.length - 1 ? line.charCodeAt(end) !== 0x7d : !ACK_TAIL.test(line.slice(end))) return undefined;
  return [start, end];
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
  return number(text, at);
}

function object(text: string, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  at++;
  if (text.charCodeAt(at) === 0x7d) return at + 1;
  // Hashes of the keys seen: a repeated key (or two that share a hash) is left to JSON.stringify.
  const seen: number[] = [];
  let many: Set<number> | undefined;
  for (;;) {
    const keyEnd = string(text, at);
    if (keyEnd < 0) return -1;
    let hash = 0x811c9dc5;
    const first = text.charCodeAt(at + 1);
    let digits = first >= 0x30 && first <= 0x39;
    for (let i = at + 1; i < keyEnd - 1; i++) {
      const k = text.charCodeAt(i);
      hash = Math.imul(hash ^ k, 0x01000193);
      if (k < 0x30 || k > 0x39) digits = false;
    }
    // JavaScript orders array-index keys ("0", "17") first: JSON.stringify would move this one.
    if (digits && keyEnd - at - 2 <= 10 && (first !== 0x30 || keyEnd - at === 3)) return -1;
    if (many === undefined) {
      if (seen.includes(hash)) return -1;
      seen.push(hash);
      if (seen.length > 16) many = new Set(seen);
    } else {
      if (many.has(hash)) return -1;
      many.add(hash);
    }
    if (text.charCodeAt(keyEnd) !== 0x3a) return -1;
    at = value(text, keyEnd + 1, depth + 1);
    if (at < 0) return -1;
    const c = text.charCodeAt(at);
    if (c === 0x7d) return at + 1;
    if (c !== 0x2c) return -1;
    at++;
  }
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
  const close = text.indexOf('"', at + 1);
  if (nextEscape !== Infinity && nextEscape <= at) {
    const found = text.indexOf('\\', at + 1);
    nextEscape = found < 0 ? Infinity : found;
  }
  // The common case: no escape in it (a raw control character would not have parsed).
  if (close > 0 && nextEscape > close) return close + 1;
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

/** A number: canonical only as an integer of at most 15 digits (exact in a double, written back the same), not -0. */
function number(text: string, at: number): number {
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
