// A producer's own opts bytes are reused only when they are byte for byte what serializing the
// parsed opts would write: checked on generated reports in every spelling JSON allows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalOptsSpan } from '../../src/protocol/passthrough.js';
import { parseReport } from '../../src/protocol/report.js';
import { eventTail, eventTailOf } from '../../src/protocol/wire.js';
import { sampleReports } from '../helpers/daemon.js';

/**
 * JSON text of a value as JSON.stringify writes it, except in one place (`choices` say which, and
 * how): one thing spelled another way JSON allows, such as whitespace, an escape, a number's
 * form or the key order. One at a time, so that none hides another.
 */
function spelled(value: unknown, choices: number[]): string {
  // First count the places where a spelling is chosen, then change one of them.
  const places = choose(value, -1, 0).places;
  return choose(value, (choices[0] ?? 0) % places, choices[1] ?? 0).text;
}

function choose(value: unknown, where: number, how: number): { text: string; places: number } {
  let n = 0;
  // 0 is "as JSON.stringify writes it".
  const pick = (options: number) => (n++ === where ? 1 + (how % (options - 1)) : 0);
  const ws = () => ['', ' ', '\n ', '\t'][pick(4)]!;
  const str = (s: string) => {
    switch (pick(4)) {
      case 1: // a \u escape for each character
        return `"${[...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;
      case 2:
        return JSON.stringify(s).replace(/\//g, '\\/');
      case 3: // upper-case hex in the escapes JSON.stringify writes
        return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, (_, hex: string) => `\\u00${hex.toUpperCase()}`);
      default:
        return JSON.stringify(s);
    }
  };
  const write = (v: unknown): string => {
    if (typeof v === 'string') return str(v);
    if (typeof v === 'number') {
      const variants = [JSON.stringify(v), Number.isInteger(v) ? `${v}.0` : `${v}0`, v.toExponential(), `${v}`.replace(/^(-?)/, '$1')];
      return variants[pick(variants.length)]!;
    }
    if (Array.isArray(v)) return `[${ws()}${v.map((item) => write(item)).join(`${ws()},${ws()}`)}${ws()}]`;
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      if (pick(2) === 1) entries.reverse();
      return `{${ws()}${entries.map(([k, item]) => `${str(k)}${ws()}:${ws()}${write(item)}`).join(`${ws()},${ws()}`)}${ws()}}`;
    }
    return JSON.stringify(v);
  };
  const text = write(value);
  return { text, places: n };
}

/** Compact JSON with every object's keys in reverse order (what an array-index key makes JSON.stringify undo). */
function reversedKeys(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reversedKeys).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).reverse();
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reversedKeys(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const freeForm = fc.jsonValue({ maxDepth: 4 });
const report = fc.oneof(
  fc.constantFrom(...Object.values(sampleReports)),
  fc
    .record({
      id: fc.oneof(
        fc.string({ minLength: 1, maxLength: 6 }),
        fc.constantFrom('a/b', 'quo"te', 'back\\slash', 'tab\there', 'ctl\u0001', 'del\u007f', 'é', '😀', '\u2028'),
      ),
      pool: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/),
    })
    .map(({ id, pool }) => ({
      type: 'state',
      opts: { pool, id, state: 'running' },
    })),
  freeForm.map((payload) => ({ type: 'management', opts: { id: 1, cmd: 'x', opts: { payload }, state: 'run' } })),
  fc
    .dictionary(
      fc.oneof(fc.constantFrom('0', '1', '10', 'a', 'b', '__proto__', '01', '-1', '4294967295'), fc.string({ maxLength: 3 })),
      freeForm,
      { maxKeys: 4 },
    )
    .map((opts) => ({ type: 'management', opts: { id: 1, cmd: 'x', opts, state: 'run' } })),
  freeForm.map((payload) => ({ type: 'management', opts: { id: null, cmd: payload, opts: payload, state: 'failed' } })),
);

/** A management report whose free-form opts has these entries (`"key":value` each). */
function managementWith(entries: string[]): string {
  return `{"type":"management","opts":{"id":1,"cmd":"x","opts":{${entries.join(',')}},"state":"run"}}`;
}

describe('opts passed through as the producer sent them', () => {
  it('makes the same line as serializing, however the report is spelled', () => {
    fc.assert(
      fc.property(
        report,
        fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
        fc.option(fc.nat(), { nil: undefined }),
        (value, choices, ack) => {
          const withAck = ack === undefined ? value : { ...value, ack };
          for (const text of [JSON.stringify(withAck), reversedKeys(withAck), spelled(withAck, choices)]) {
            const parsed = parseReport(text);
            if (!parsed.ok) continue;
            const serialized = eventTail(parsed.type, parsed.opts);
            expect(eventTailOf(parsed.type, parsed.opts, text)).toBe(serialized);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('takes the common case: compact JSON as osctld and the clients send it', () => {
    for (const sample of Object.values(sampleReports)) {
      const text = JSON.stringify({ ...sample, ack: 7 });
      expect(canonicalOptsSpan(text, sample.type), text).toBeDefined();
    }
  });

  it("takes keys of one length that differ, nested objects that reuse their parent's keys, and 32 keys", () => {
    for (const entries of [
      ['"ab":1', '"ac":2', '"bc":{"ab":1,"ac":{"ab":2}}', '"ba":[{"ab":1},{"ab":1}]'],
      Array.from({ length: 32 }, (_, i) => `"k${i}":${i}`),
    ]) {
      const text = managementWith(entries);
      expect(canonicalOptsSpan(text, 'management'), text).toBeDefined();
    }
  });

  const serializedAgain: [string, string][] = [
    ['whitespace', '{"type":"state","opts":{ "pool":"tank","id":"1","state":"running"}}'],
    ['an escaped slash', '{"type":"state","opts":{"pool":"tank","id":"a\\/b","state":"running"}}'],
    ['a needless \\u escape', '{"type":"state","opts":{"pool":"tank","id":"\\u0041","state":"running"}}'],
    [
      'a control character spelled \\u0009 where JSON.stringify writes \\t',
      '{"type":"state","opts":{"pool":"tank","id":"a\\u0009b","state":"running"}}',
    ],
    ['upper-case hex', '{"type":"state","opts":{"pool":"tank","id":"a\\u001Fb","state":"running"}}'],
    ['a fraction', '{"type":"ct_init_pid","opts":{"pool":"tank","id":"1","init_pid":1.0}}'],
    ['an exponent', '{"type":"ct_init_pid","opts":{"pool":"tank","id":"1","init_pid":1e3}}'],
    ['minus zero', '{"type":"management","opts":{"id":-0,"cmd":"x","opts":null,"state":"run"}}'],
    ['an array-index key', '{"type":"management","opts":{"id":1,"cmd":"x","opts":{"b":1,"1":2},"state":"run"}}'],
    ['a repeated key', '{"type":"management","opts":{"id":1,"cmd":"x","opts":{"a":1,"a":2},"state":"run"}}'],
    ['opts given twice', '{"type":"state","opts":{},"opts":{"pool":"tank","id":"1","state":"running"}}'],
    ['opts spelled with an escape', '{"type":"state","\\u006fpts":{"pool":"tank","id":"1","state":"running"}}'],
    ['a 16-digit integer', '{"type":"management","opts":{"id":1234567890123456,"cmd":"x","opts":null,"state":"run"}}'],
    [
      'a key repeated among many of one length',
      managementWith(Array.from({ length: 20 }, (_, i) => `"k${String(i).padStart(2, '0')}":1`).concat('"k05":2')),
    ],
    ['an object of more than 32 keys', managementWith(Array.from({ length: 33 }, (_, i) => `"k${i}":${i}`))],
  ];
  for (const [what, text] of serializedAgain) {
    it(`serializes again for ${what}, with the same result as always serializing`, () => {
      const parsed = parseReport(text);
      expect(canonicalOptsSpan(text, parsed.ok ? parsed.type : 'state')).toBeUndefined();
      if (parsed.ok) expect(eventTailOf(parsed.type, parsed.opts, text)).toBe(eventTail(parsed.type, parsed.opts));
    });
  }
});
