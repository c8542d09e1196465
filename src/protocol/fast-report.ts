// A report recognized straight from its bytes, without decoding, JSON.parse or the zod check: the
// common case on the ingest path (compact JSON as osctld, the clients and `eventd report` write
// it, with values plainly inside their schema's bounds). Decoding, JSON.parse, building the objects,
// the zod check and encoding the event line again were most of an ingest thread's time per event;
// this scan reads each byte once, builds nothing but the pool name, and the event line is copied
// from the producer's own bytes.
//
// It only ever says "valid, and these are its parts" or "don't know": anything it does not take
// (another key order, whitespace, an escape in a field, a value near a bound, a refused request
// with id null, anything invalid) goes the full way through report.ts, which decides and explains.
// So it must never take a report report.ts would refuse, nor read one differently:
// test/protocol/fast-report.test.ts checks both on generated and mutated reports, and fails when
// the report schemas change (SCHEMA_DIGEST) until the rules below are checked against them. The
// bytes must be valid UTF-8 (the framer checks): a string without escapes is then well-formed.
import { CONTAINER_STATES, DB_OBJECTS, POOL_NAME_MAX, type EventType } from './event-types.js';
import { canonicalIntegerEnd as integerEnd, canonicalValueEnd } from './passthrough.js';

/** A report the scan took: where its opts end in the bytes (canonical JSON, see passthrough.ts), its pool, its ack. */
export interface ScannedReport {
  type: EventType;
  optsEnd: number;
  pool: string | undefined;
  ack: string | number | undefined;
}

/**
 * The digest of the report schemas' JSON Schema (`eventd schema`) these rules were written for.
 * When a schema changes, the test fails: check the rules, then update it.
 */
export const SCHEMA_DIGEST = 'a0c7611886e969e4';

/** What a field's value must be for the scan to take it. */
type Rule =
  /** A ZFS pool name (events.ts `pool`). */
  | 'pool'
  /** A non-empty string (events.ts `name`; well-formed, as every string without escapes in valid UTF-8 is). */
  | 'name'
  /** A name or an integer (management `id`). */
  | 'name-or-int'
  /** An object or null (management `opts`: a record of anything). */
  | 'object-or-null'
  /** One of these strings. */
  | readonly Uint8Array[]
  /** An integer of at least this. */
  | number;

interface Shape {
  /** Field names, in the order of `rules`; a field's bit in `seen` is 1 << its index. */
  names: readonly Uint8Array[];
  rules: readonly Rule[];
  /** Whether the fields seen (bits), and the option the last enum field took (its index), make a valid report. */
  complete(seen: number, option: number): boolean;
}

/** Every field of `names` is required. */
function shape(fields: Record<string, Rule>): Shape {
  const names = Object.keys(fields).map(ascii);
  const all = (1 << names.length) - 1;
  return { names, rules: Object.values(fields), complete: (seen) => seen === all };
}

/** The bytes of an ASCII name. */
function ascii(name: string): Uint8Array {
  return Buffer.from(name, 'latin1');
}

function oneOf(names: readonly string[]): Uint8Array[] {
  return names.map(ascii);
}

const container = { pool: 'pool', id: 'name' } as const;
const NETIF_ACTIONS = ['up', 'add', 'remove', 'down', 'rename'] as const;

const netif: Shape = {
  names: oneOf(['pool', 'id', 'name', 'action', 'veth', 'new_name']),
  rules: ['pool', 'name', 'name', oneOf(NETIF_ACTIONS), 'name', 'name'],
  // events.ts ct_netif: `veth` required on up, `new_name` exactly on rename.
  complete(seen, action) {
    if ((seen & 0b1111) !== 0b1111) return false;
    const veth = (seen & 0b10000) !== 0;
    const newName = (seen & 0b100000) !== 0;
    if (NETIF_ACTIONS[action] === 'up') return veth && !newName;
    if (NETIF_ACTIONS[action] === 'rename') return newName;
    return !newName;
  },
};

const SHAPES: Record<EventType, Shape> = {
  // Only the common shape: a command osctld accepted (a refused one, id null, goes the full way).
  management: shape({ id: 'name-or-int', cmd: 'name', opts: 'object-or-null', state: oneOf(['run', 'done', 'failed']) }),
  osctld_shutdown: shape({}),
  state: shape({ ...container, state: oneOf(CONTAINER_STATES) }),
  db: shape({ object: oneOf(DB_OBJECTS), ...container, action: oneOf(['add', 'remove']) }),
  ct_scheduled: shape({ ...container, cpu_package_inuse: 0 }),
  ct_init_pid: shape({ ...container, init_pid: 1 }),
  ct_netif: netif,
  ct_exit: shape({ ...container, exit_type: oneOf(['halt', 'reboot']) }),
};

const TYPE_NAMES_TEXT = Object.keys(SHAPES) as EventType[];
const TYPE_NAMES = oneOf(TYPE_NAMES_TEXT);
const TYPE_SHAPES = Object.values(SHAPES);

const TYPE_OPEN = ascii('{"type":"');
const OPTS_OPEN = ascii('","opts":');
const ACK_OPEN = ascii(',"ack":');

/** The option of the enum value valueEnd read last (its index): a second result, without an object for it. */
let option = -1;

/** The report in `bytes[start, end)` (one line, valid UTF-8), if the scan can take it; undefined when report.ts must decide. */
export function scanReport(bytes: Buffer, start: number, end: number): ScannedReport | undefined {
  if (!isAt(bytes, start, TYPE_OPEN)) return undefined;
  const typeStart = start + TYPE_OPEN.length;
  const typeEnd = plainStringEnd(bytes, typeStart - 1, end) - 1;
  const typeIndex = typeEnd < 0 ? -1 : indexOfName(TYPE_NAMES, bytes, typeStart, typeEnd);
  if (typeIndex < 0 || !isAt(bytes, typeEnd, OPTS_OPEN)) return undefined;
  const optsStart = typeEnd + OPTS_OPEN.length;
  const { names, rules, complete } = TYPE_SHAPES[typeIndex]!;
  if (bytes[optsStart] !== 0x7b) return undefined;
  let at = optsStart + 1;
  let seen = 0;
  let pool: string | undefined;
  if (bytes[at] !== 0x7d) {
    for (;;) {
      // A key: one of the shape's, not seen before.
      const keyEnd = plainStringEnd(bytes, at, end);
      if (keyEnd < 0) return undefined;
      const field = indexOfName(names, bytes, at + 1, keyEnd - 1);
      if (field < 0 || (seen & (1 << field)) !== 0) return undefined;
      seen |= 1 << field;
      if (bytes[keyEnd] !== 0x3a) return undefined;
      at = keyEnd + 1;
      const rule = rules[field]!;
      const valueAt = at;
      at = valueEnd(bytes, at, end, rule);
      if (at < 0) return undefined;
      // Every character of a pool name is ASCII.
      if (rule === 'pool') pool = poolName(bytes, valueAt + 1, at - 1);
      const c = bytes[at];
      if (c === 0x7d) break;
      if (c !== 0x2c) return undefined;
      at++;
    }
  }
  const optsEnd = at + 1;
  if (!complete(seen, option)) return undefined;
  const type = TYPE_NAMES_TEXT[typeIndex]!;
  if (optsEnd === end - 1) return bytes[optsEnd] === 0x7d ? { type, optsEnd, pool, ack: undefined } : undefined;
  // An ack: a string without escapes or a plain integer, then the end of the line.
  if (!isAt(bytes, optsEnd, ACK_OPEN)) return undefined;
  const ackAt = optsEnd + ACK_OPEN.length;
  let ack: string | number;
  let ackEnd: number;
  if (bytes[ackAt] === 0x22) {
    ackEnd = plainStringEnd(bytes, ackAt, end);
    if (ackEnd < 0) return undefined;
    ack = bytes.toString('utf8', ackAt + 1, ackEnd - 1);
  } else {
    ackEnd = integerEnd(bytes, ackAt);
    if (ackEnd < 0) return undefined;
    ack = integerValue(bytes, ackAt, ackEnd);
  }
  if (ackEnd !== end - 1 || bytes[ackEnd] !== 0x7d) return undefined;
  return { type, optsEnd, pool, ack };
}

/** The end of a value at `at` that `rule` takes plainly, or -1. */
function valueEnd(bytes: Buffer, at: number, end: number, rule: Rule): number {
  if (rule === 'pool') return poolEnd(bytes, at, end);
  if (rule === 'name') return nameEnd(bytes, at, end);
  if (typeof rule === 'number') {
    const valueEnd = integerEnd(bytes, at);
    return valueEnd >= 0 && integerValue(bytes, at, valueEnd) >= rule ? valueEnd : -1;
  }
  if (rule === 'name-or-int') return bytes[at] === 0x22 ? nameEnd(bytes, at, end) : integerEnd(bytes, at);
  if (rule === 'object-or-null') {
    if (isAt(bytes, at, NULL)) return at + NULL.length;
    return bytes[at] === 0x7b ? canonicalValueEnd(bytes, at, end) : -1;
  }
  // An enum.
  const valueEnd = plainStringEnd(bytes, at, end);
  if (valueEnd < 0) return -1;
  option = indexOfName(rule, bytes, at + 1, valueEnd - 1);
  return option < 0 ? -1 : valueEnd;
}

const NULL = ascii('null');

/**
 * The end of a ZFS pool name at `at` (events.ts POOL_NAME: a letter, then letters, digits, "_", "-",
 * ".", ":" or spaces; at most POOL_NAME_MAX).
 */
function poolEnd(bytes: Buffer, at: number, end: number): number {
  if (bytes[at] !== 0x22 || !isLetter(bytes[at + 1]!)) return -1;
  const last = Math.min(end, at + 2 + POOL_NAME_MAX);
  for (let i = at + 2; i < last; i++) {
    const c = bytes[i]!;
    if (c === 0x22) return i + 1;
    if (!(isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x3a || c === 0x20)) return -1;
  }
  return -1;
}

/** The last pool name read, and its bytes: a host has a few pools, and a name is made once, not per event. */
let lastPool = '';
let lastPoolBytes = new Uint8Array(0);

/** The pool name at `bytes[start, end)` (ASCII). */
function poolName(bytes: Buffer, start: number, end: number): string {
  if (end - start !== lastPoolBytes.length || !isAt(bytes, start, lastPoolBytes)) {
    lastPool = bytes.toString('latin1', start, end);
    // A copy: a view would keep the whole chunk it came from.
    lastPoolBytes = new Uint8Array(bytes.subarray(start, end));
  }
  return lastPool;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** A non-empty string without escapes. */
function nameEnd(bytes: Buffer, at: number, end: number): number {
  const valueEnd = plainStringEnd(bytes, at, end);
  return valueEnd > at + 2 ? valueEnd : -1;
}

/** The end of a string at `at`, before `end`, with no escape and no control character in it (its bytes are its value), or -1. */
function plainStringEnd(bytes: Buffer, at: number, end: number): number {
  if (bytes[at] !== 0x22) return -1;
  for (let i = at + 1; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c || c < 0x20) return -1;
  }
  return -1;
}

/** The value of the integer at `bytes[start, end)` (integerEnd's: at most 15 digits, so exact). */
function integerValue(bytes: Buffer, start: number, end: number): number {
  const negative = bytes[start] === 0x2d;
  let value = 0;
  for (let i = negative ? start + 1 : start; i < end; i++) value = value * 10 + bytes[i]! - 0x30;
  return negative ? -value : value;
}

/** Whether `bytes` holds `text` at `at`. */
function isAt(bytes: Buffer, at: number, text: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text[i]) return false;
  return true;
}

/** The index of `bytes[start, end)` in `names`, or -1. */
function indexOfName(names: readonly Uint8Array[], bytes: Buffer, start: number, end: number): number {
  const length = end - start;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name.length === length && isAt(bytes, start, name)) return i;
  }
  return -1;
}
