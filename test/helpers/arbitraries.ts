// fast-check generators for what a client might send, good and bad.
import fc from 'fast-check';
import { EVENT_TYPES } from '../../src/protocol/event-types.js';
import { sampleReports } from './daemon.js';

/** Valid reports: the samples with random names and a random (free-form) management payload. */
export const validReport = fc.oneof(
  fc
    .record({ pool: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.: -]{0,11}$/), id: fc.string({ minLength: 1, maxLength: 12 }) })
    .map(({ pool, id }) => ({ type: 'state', opts: { pool, id, state: 'frozen' } })),
  fc
    .jsonValue({ maxDepth: 4 })
    .map((payload) => ({ type: 'management', opts: { id: 1, cmd: 'fuzz', opts: { payload, __proto__x: 1 }, state: 'done' } })),
  fc.constantFrom(...Object.values(sampleReports)),
);

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');

/** Lines that must be rejected, each as text or bytes. */
export const invalidLine: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string({ maxLength: 80 }).filter((text) => !text.includes('\n')),
  fc
    .jsonValue({ maxDepth: 3 })
    .map((value) => JSON.stringify(value))
    .filter((text) => !/^\{"type":"(state|management|db|osctld_shutdown|ct_\w+)"/.test(text)),
  fc
    .record({
      type: fc.constantFrom('state', 'db', 'ct_exit', 'nope'),
      opts: fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), fc.jsonValue({ maxDepth: 2 })),
    })
    .map((value) => JSON.stringify(value)),
  hostileKey.map((key) => `{"type":"state","opts":{"pool":"p","id":"1","state":"running","${key}":{}}}`),
  fc.constant('{"type":"ct_init_pid","opts":{"pool":"p","id":"1","init_pid":1e400}}'),
  fc.constant('{"type":"management","opts":{"id":1,"cmd":"x","state":"run","opts":{"n":-1e999}}}'),
  // Lone surrogates, escaped: valid JSON, not valid Unicode.
  fc
    .constantFrom('\\ud800', 'a\\udfffb', '\\udc00\\ud800')
    .map((bad) => `{"type":"state","opts":{"pool":"tank","id":"${bad}","state":"running"}}`),
  fc.constant('{"type":"management","opts":{"id":1,"cmd":"x","state":"run","opts":{"k\\ud83d":1}}}'),
  fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .map((bytes) => bytes.map((b) => (b === 10 ? 0xff : b)))
    .filter((bytes) => !Buffer.from(bytes).toString('utf8').trim().startsWith('{')),
  fc.constant(new Uint8Array([0x7b, 0x00, 0x7d])),
  fc.constant(new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
);

/** Every message the daemon may send for a rejected report line. */
export const REJECTION_MESSAGES = [
  /^Line is not valid JSON: /,
  /^A report must be a JSON object like /,
  /^Report has no event type; known types: /,
  /^Commands such as \{"cmd":"stats"\} go to the events socket; /,
  /^Unknown event type ".*"; known types: /,
  /^Invalid \w+ report: \S* ?(is required|is not a known field|must be .+|is a number too large to represent|does not match any allowed form.*|opts is nested too deeply)/,
  /^Line is not valid UTF-8$/,
  /^Line is longer than the limit of \d+ bytes$/,
];

/** Splits bytes into random chunks (every boundary possible). */
export function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks.filter((chunk) => chunk.length > 0);
}

/** Values near the edges of what the schemas allow, and anything JSON can hold. */
const edgeValue = fc.oneof(
  fc.constantFrom(0, -1, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), '', ' ', 'x'.repeat(300), 'eth0', 'tank', 'running', 'up', null, true),
  // Lone surrogates (and a proper pair), as values and as keys of free-form data; pool-name edges.
  fc.constantFrom('\ud800', 'a\udfff', '\ud83d\ude00', { 'k\udc00': 1 }, ['\ud800'], 't'.repeat(255), 't'.repeat(256), '1tank', 'tank 2:x'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A sample report with one thing changed: a field set to an edge value, removed or added, an ack, or the type. */
export const mutatedReport = fc
  .record({
    sample: fc.constantFrom(...Object.values(sampleReports)),
    change: fc.constantFrom('set', 'delete', 'add', 'ack', 'type', 'none'),
    field: fc.nat(),
    key: fc.string({ maxLength: 8 }),
    value: edgeValue,
  })
  .map(({ sample, change, field, key, value }) => {
    const copy = JSON.parse(JSON.stringify(sample)) as Record<string, unknown> & { opts: Record<string, unknown> };
    const keys = Object.keys(copy.opts);
    const name = keys.length > 0 ? keys[field % keys.length]! : key;
    if (change === 'set') copy.opts[name] = value;
    else if (change === 'delete') delete copy.opts[name];
    else if (change === 'add') copy.opts[key] = value;
    else if (change === 'ack') copy.ack = value;
    else if (change === 'type') copy.type = EVENT_TYPES[field % EVENT_TYPES.length];
    return copy;
  });
