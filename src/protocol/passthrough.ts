// Whether the bytes a producer sent for a JSON value are exactly what JSON.stringify would write
// for it once parsed, so that they can be published as they are: compact JSON, as osctld, the Ruby
// client and `eventd report` send it (fast-report.ts uses it for management's free-form opts).
// Serializing again cost about 0.4 µs an event for bytes already there. Anything JSON.stringify
// would write differently is refused: whitespace, escapes it would not use (\/, \u00e9, upper-case
// hex), numbers it would spell otherwise (1.0, 1e3, 1e21, -0, integers past 2^53), keys it would
// reorder (array indexes come first in a JS object) or drop (a key given twice), raw control
// characters (not JSON), and nesting deeper than a few levels. test/protocol/passthrough.test.ts
// checks on values generated in every spelling JSON allows that what it takes is byte for byte
// what serializing makes.
//
// It is on every event's path, so it is written for speed: it reads the bytes in place, allocating
// nothing but a short string for a number that is not a small integer. Bytes of UTF-8 sequences
// (0x80 and up) never look like a quote, a backslash or a control character, so strings are read
// byte by byte whatever they hold; the caller sees that the bytes are valid UTF-8.

/** Deeper than this, opts are serialized again (the scan keeps no stack of its own beyond it). */
const MAX_DEPTH = 32;

/** The scan stops here: the end of the line (exclusive). */
let limit = 0;

/**
 * The end of the JSON value at `bytes[at]` if it is spelled as JSON.stringify would spell it, and
 * ends before `end`; else -1.
 */
export function canonicalValueEnd(bytes: Uint8Array, at: number, end: number): number {
  limit = end;
  keyStackLength = 0;
  const valueEnd = value(bytes, at, 0);
  return valueEnd <= end ? valueEnd : -1;
}

/** The end of the canonical JSON value at `at`, or -1 if there is none there. */
function value(bytes: Uint8Array, at: number, depth: number): number {
  const c = bytes[at];
  if (c === 0x22) return string(bytes, at);
  if (c === 0x7b) return object(bytes, at, depth);
  if (c === 0x5b) return array(bytes, at, depth);
  if (c === 0x74) return word(bytes, at, TRUE);
  if (c === 0x66) return word(bytes, at, FALSE);
  if (c === 0x6e) return word(bytes, at, NULL);
  return numberEnd(bytes, at);
}

/**
 * The end of a number at `at` that JSON.stringify would write the same, or -1. An integer of up to
 * 15 digits is read in place; any other number (a fraction, an exponent, more digits) is checked
 * by writing it back: JSON.stringify writes a number as String() does, the shortest spelling that
 * reads back the same (a timestamp with a fraction of a millisecond is common in opts).
 */
function numberEnd(bytes: Uint8Array, at: number): number {
  const integer = canonicalIntegerEnd(bytes, at);
  if (integer !== -1) return integer;
  // JSON's grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  let i = at;
  if (bytes[i] === 0x2d) i++;
  if (bytes[i] === 0x30) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else return -1;
  if (bytes[i] === 0x2e) {
    if (!isDigit(bytes[++i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (i > limit) return -1;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + at, i - at).toString('latin1');
  return String(Number(text)) === text ? i : -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The end of `literal` at `at`, or -1. */
function word(bytes: Uint8Array, at: number, literal: readonly number[]): number {
  for (let i = 0; i < literal.length; i++) if (bytes[at + i] !== literal[i]) return -1;
  return at + literal.length;
}

function object(bytes: Uint8Array, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  at++;
  if (bytes[at] === 0x7d) return at + 1;
  // This object's keys are kept from keyStack[base] on, as start and end pairs (a failed scan
  // leaves them: canonicalValueEnd starts the stack again).
  const base = keyStackLength;
  for (;;) {
    const keyEnd = string(bytes, at);
    if (keyEnd < 0) return -1;
    // JavaScript orders array-index keys ("0", "17") first: JSON.stringify would move this one.
    const first = bytes[at + 1]!;
    if (first >= 0x30 && first <= 0x39 && looksLikeIndex(bytes, at + 1, keyEnd - 1)) return -1;
    // A key given twice is kept once by JSON.parse. A canonical key has one spelling, so equal
    // text is an equal key; only keys of one length are compared. Past MAX_KEYS keys the
    // comparisons would grow with their square: such an object is serialized instead.
    if (keyStackLength - base >= 2 * MAX_KEYS || repeated(bytes, at, keyEnd, base)) return -1;
    keyStack[keyStackLength++] = at;
    keyStack[keyStackLength++] = keyEnd;
    if (bytes[keyEnd] !== 0x3a) return -1;
    at = value(bytes, keyEnd + 1, depth + 1);
    if (at < 0) return -1;
    const c = bytes[at];
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
function repeated(bytes: Uint8Array, start: number, end: number, base: number): boolean {
  const length = end - start;
  for (let k = base; k < keyStackLength; k += 2) {
    const other = keyStack[k]!;
    if (keyStack[k + 1]! - other !== length) continue;
    let i = 1;
    while (i < length - 1 && bytes[start + i] === bytes[other + i]) i++;
    if (i === length - 1) return true;
  }
  return false;
}

/** Whether bytes[start, end) may be an array index: up to 10 digits, "0" or without a leading 0 (a few too many cost a serialization). */
function looksLikeIndex(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > 10 || (bytes[start] === 0x30 && end - start > 1)) return false;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function array(bytes: Uint8Array, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  at++;
  if (bytes[at] === 0x5d) return at + 1;
  for (;;) {
    at = value(bytes, at, depth + 1);
    if (at < 0) return -1;
    const c = bytes[at];
    if (c === 0x5d) return at + 1;
    if (c !== 0x2c) return -1;
    at++;
  }
}

/** The end of the string at `at` (after its closing quote); -1 if it is not as JSON.stringify writes it. */
function string(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== 0x22) return -1;
  for (let i = at + 1; i < limit; i++) {
    const c = bytes[i]!;
    if (c === 0x22) return i + 1;
    // A raw control character is not JSON.
    if (c < 0x20) return -1;
    if (c !== 0x5c) continue;
    const e = bytes[++i];
    // JSON.stringify writes \" \\ \b \f \n \r \t, and \u00xx (lower case) for the other controls.
    if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) continue;
    if (e !== 0x75 || bytes[i + 1] !== 0x30 || bytes[i + 2] !== 0x30) return -1;
    const high = bytes[i + 3]!;
    const low = bytes[i + 4]!;
    if ((high !== 0x30 && high !== 0x31) || !((low >= 0x30 && low <= 0x39) || (low >= 0x61 && low <= 0x66))) return -1;
    const code = (high - 0x30) * 16 + (low <= 0x39 ? low - 0x30 : low - 0x57);
    if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
    i += 4;
  }
  return -1;
}

/** The end of a number at `at`, if it is an integer of at most 15 digits (exact in a double, written back the same), not -0; else -1. */
export function canonicalIntegerEnd(bytes: Uint8Array, at: number): number {
  let i = at;
  if (bytes[i] === 0x2d) i++;
  const digitsStart = i;
  for (let c = bytes[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = bytes[++i]);
  const digits = i - digitsStart;
  if (digits === 0 || digits > 15) return -1;
  const c = bytes[i];
  if (c === 0x2e || c === 0x65 || c === 0x45) return -1;
  if (bytes[digitsStart] === 0x30 && (digits > 1 || digitsStart > at)) return -1; // 01, -0
  return i;
}
