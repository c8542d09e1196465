// A report recognized straight from its text, without JSON.parse or the zod check: the common
// case on the ingest path (compact JSON as osctld, the clients and `eventd report` write it, with
// values plainly inside their schema's bounds). JSON.parse, building the objects and the zod
// check cost about three quarters of an ingest thread's time per event; this scan reads each
// character once and builds nothing but the pool name.
//
// It only ever says "valid, and these are its parts" or "don't know": anything it does not take
// (another key order, whitespace, an escape in a field, a value near a bound, a refused request
// with id null, anything invalid) goes the full way through report.ts, which decides and explains.
// So it must never take a report report.ts would refuse, nor read one differently:
// test/protocol/fast-report.test.ts checks both on generated and mutated reports, and fails when
// the report schemas change (SCHEMA_DIGEST) until the rules below are checked against them.
import type { EventType } from './event-types.js';
import { CONTAINER_STATES, DB_OBJECTS, POOL_NAME_MAX } from './events.js';
import { canonicalIntegerEnd as integerEnd, canonicalValueEnd } from './passthrough.js';

/** A report the scan took: the span of its opts in the line (canonical JSON, see passthrough.ts), its pool, its ack. */
export interface ScannedReport {
  ok: true;
  type: EventType;
  optsStart: number;
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
  /** A non-empty string (events.ts `name`; well-formed: see scanReport). */
  | 'name'
  /** A name or an integer (management `id`). */
  | 'name-or-int'
  /** An object or null (management `opts`: a record of anything). */
  | 'object-or-null'
  /** One of these strings. */
  | readonly string[]
  /** An integer of at least this. */
  | number;

interface Shape {
  /** Field names, in the order of `rules`; a field's bit in `seen` is 1 << its index. */
  names: readonly string[];
  rules: readonly Rule[];
  /** Whether the fields seen (bits), and the option the last enum field took (its index), make a valid report. */
  complete(seen: number, option: number): boolean;
}

/** Every field of `names` is required. */
function shape(fields: Record<string, Rule>): Shape {
  const names = Object.keys(fields);
  const all = (1 << names.length) - 1;
  return { names, rules: Object.values(fields), complete: (seen) => seen === all };
}

const container = { pool: 'pool', id: 'name' } as const;
const NETIF_ACTIONS = ['up', 'add', 'remove', 'down', 'rename'] as const;

const netif: Shape = {
  names: ['pool', 'id', 'name', 'action', 'veth', 'new_name'],
  rules: ['pool', 'name', 'name', NETIF_ACTIONS, 'name', 'name'],
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
  management: shape({ id: 'name-or-int', cmd: 'name', opts: 'object-or-null', state: ['run', 'done', 'failed'] }),
  osctld_shutdown: shape({}),
  state: shape({ ...container, state: CONTAINER_STATES }),
  db: shape({ object: DB_OBJECTS, ...container, action: ['add', 'remove'] }),
  ct_scheduled: shape({ ...container, cpu_package_inuse: 0 }),
  ct_init_pid: shape({ ...container, init_pid: 1 }),
  ct_netif: netif,
  ct_exit: shape({ ...container, exit_type: ['halt', 'reboot'] }),
};

const TYPES = new Map<string, Shape>(Object.entries(SHAPES));

/** A pool name from its second character on, up to its closing quote (events.ts POOL_NAME). */
const POOL_REST = /[A-Za-z0-9_.: -]*"/y;

const TYPE_OPEN = '{"type":"';
const OPTS_OPEN = '","opts":';
const ACK_OPEN = ',"ack":';

/** The option of the enum value valueEnd read last (its index): a second result, without an object for it. */
let option = -1;

/** The report in `line`, if the scan can take it; undefined when report.ts must decide. */
export function scanReport(line: string): ScannedReport | undefined {
  // Strings without escapes are taken as well-formed: true of text decoded from UTF-8, checked for
  // any other (free for a one-byte string, which cannot hold a surrogate).
  if (!line.startsWith(TYPE_OPEN) || !line.isWellFormed()) return undefined;
  const typeEnd = line.indexOf('"', TYPE_OPEN.length);
  if (typeEnd < 0) return undefined;
  const type = line.slice(TYPE_OPEN.length, typeEnd);
  const found = TYPES.get(type);
  if (found === undefined || !line.startsWith(OPTS_OPEN, typeEnd)) return undefined;
  const optsStart = typeEnd + OPTS_OPEN.length;
  const { names, rules, complete } = found;
  if (line.charCodeAt(optsStart) !== 0x7b) return undefined;
  let at = optsStart + 1;
  let seen = 0;
  let pool: string | undefined;
  if (line.charCodeAt(at) !== 0x7d) {
    for (;;) {
      // A key: one of the shape's, not seen before.
      const keyEnd = plainStringEnd(line, at);
      if (keyEnd < 0) return undefined;
      const field = indexOfText(names, line, at + 1, keyEnd - 1);
      if (field < 0 || (seen & (1 << field)) !== 0) return undefined;
      seen |= 1 << field;
      if (line.charCodeAt(keyEnd) !== 0x3a) return undefined;
      at = keyEnd + 1;
      const rule = rules[field]!;
      const end = valueEnd(line, at, rule);
      if (end < 0) return undefined;
      if (rule === 'pool') pool = line.slice(at + 1, end - 1);
      at = end;
      const c = line.charCodeAt(at);
      if (c === 0x7d) break;
      if (c !== 0x2c) return undefined;
      at++;
    }
  }
  const optsEnd = at + 1;
  if (!complete(seen, option)) return undefined;
  if (optsEnd === line.length - 1)
    return line.charCodeAt(optsEnd) === 0x7d ? { ok: true, type: type as EventType, optsStart, optsEnd, pool, ack: undefined } : undefined;
  // An ack: a string without escapes or a plain integer, then the end of the line.
  if (!line.startsWith(ACK_OPEN, optsEnd)) return undefined;
  const ackAt = optsEnd + ACK_OPEN.length;
  let ack: string | number;
  let ackEnd: number;
  if (line.charCodeAt(ackAt) === 0x22) {
    ackEnd = plainStringEnd(line, ackAt);
    if (ackEnd < 0) return undefined;
    ack = line.slice(ackAt + 1, ackEnd - 1);
  } else {
    ackEnd = integerEnd(line, ackAt);
    if (ackEnd < 0) return undefined;
    ack = Number(line.slice(ackAt, ackEnd));
  }
  if (ackEnd !== line.length - 1 || line.charCodeAt(ackEnd) !== 0x7d) return undefined;
  return { ok: true, type: type as EventType, optsStart, optsEnd, pool, ack };
}

/** The end of a value at `at` that `rule` takes plainly, or -1. */
function valueEnd(line: string, at: number, rule: Rule): number {
  if (rule === 'pool') {
    const first = line.charCodeAt(at + 1);
    if (line.charCodeAt(at) !== 0x22 || !((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return -1;
    POOL_REST.lastIndex = at + 2;
    if (!POOL_REST.test(line)) return -1;
    const end = POOL_REST.lastIndex;
    // Every character of a pool name is ASCII: its length is its bytes.
    return end - at - 2 <= POOL_NAME_MAX ? end : -1;
  }
  if (rule === 'name') return nameEnd(line, at);
  if (typeof rule === 'number') {
    const end = integerEnd(line, at);
    return end >= 0 && Number(line.slice(at, end)) >= rule ? end : -1;
  }
  if (rule === 'name-or-int') return line.charCodeAt(at) === 0x22 ? nameEnd(line, at) : integerEnd(line, at);
  if (rule === 'object-or-null') {
    if (line.startsWith('null', at)) return at + 4;
    if (line.charCodeAt(at) !== 0x7b) return -1;
    const end = canonicalValueEnd(line, at);
    // The canonical scan follows a JSON.parse that refused raw control characters in strings: here nothing did.
    return end >= 0 && !CONTROL.test(line.slice(at, end)) ? end : -1;
  }
  // An enum.
  const end = plainStringEnd(line, at);
  if (end < 0) return -1;
  option = indexOfText(rule, line, at + 1, end - 1);
  return option < 0 ? -1 : end;
}

const CONTROL = /[\u0000-\u001f]/;

/** The index of `line[start, end)` in `texts`, or -1 (compared here: shorter than a call to startsWith for a few characters). */
function indexOfText(texts: readonly string[], line: string, start: number, end: number): number {
  const length = end - start;
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!;
    if (text.length !== length) continue;
    let k = 0;
    while (k < length && text.charCodeAt(k) === line.charCodeAt(start + k)) k++;
    if (k === length) return i;
  }
  return -1;
}

/** A non-empty string without escapes. */
function nameEnd(line: string, at: number): number {
  const end = plainStringEnd(line, at);
  return end > at + 2 ? end : -1;
}

/** The end of a string at `at` with no escape and no control character in it (its text is its value), or -1. */
function plainStringEnd(line: string, at: number): number {
  if (line.charCodeAt(at) !== 0x22) return -1;
  for (let i = at + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c || c < 0x20) return -1;
  }
  return -1;
}
