// A producer's own bytes for a value are reused only when they are byte for byte what serializing
// the parsed value would write: checked on generated values in every spelling JSON allows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalValueEnd } from '../../src/protocol/passthrough.js';
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
const value = fc.oneof(
  fc.constantFrom(...Object.values(sampleReports).map((report) => report.opts)),
  freeForm,
  fc.dictionary(
    fc.oneof(fc.constantFrom('0', '1', '10', 'a', 'b', '__proto__', '01', '-1', '4294967295'), fc.string({ maxLength: 3 })),
    freeForm,
    { maxKeys: 4 },
  ),
  fc.constantFrom('a/b', 'quo"te', 'back\\slash', 'tab\there', 'ctl\u0001', 'del\u007f', 'é', '😀', '\u2028', -0, 1e21, 0.1),
);

/** Whether canonicalValueEnd takes all of `text` as one value, alone and followed by more bytes it must not read. */
function taken(text: string): boolean {
  const bytes = Buffer.from(text);
  const alone = canonicalValueEnd(bytes, 0, bytes.length) === bytes.length;
  const followed = Buffer.concat([bytes, Buffer.from('"]}\n1')]);
  expect(canonicalValueEnd(followed, 0, bytes.length) === bytes.length).toBe(alone);
  return alone;
}

describe('a value passed through as the producer sent it', () => {
  it('is taken only when it is byte for byte what serializing makes, however it is spelled', () => {
    fc.assert(
      fc.property(value, fc.array(fc.nat(), { minLength: 2, maxLength: 2 }), (generated, choices) => {
        for (const text of [JSON.stringify(generated), reversedKeys(generated), spelled(generated, choices)]) {
          // Valid UTF-8 bytes, as the framer hands them: a lone surrogate arrives as U+FFFD.
          const sent = Buffer.from(text).toString('utf8');
          if (taken(sent)) expect(JSON.stringify(JSON.parse(sent))).toBe(sent);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the common case: compact JSON as osctld and the clients send it', () => {
    for (const sample of Object.values(sampleReports)) expect(taken(JSON.stringify(sample.opts)), JSON.stringify(sample.opts)).toBe(true);
  });

  it('takes numbers spelled as JSON.stringify spells them: fractions, exponents, 16 digits', () => {
    for (const n of [1733549489123.456, 0.1, -2.5, 1e21, 1.5e-7, 1234567890123456, 2 ** 53, -1e-300, 5e-324]) {
      const text = `{"sent_ms":${JSON.stringify(n)},"list":[${JSON.stringify(n)}]}`;
      expect(taken(text), text).toBe(true);
    }
  });

  it("takes keys of one length that differ, nested objects that reuse their parent's keys, and 32 keys", () => {
    for (const entries of [
      ['"ab":1', '"ac":2', '"bc":{"ab":1,"ac":{"ab":2}}', '"ba":[{"ab":1},{"ab":1}]'],
      Array.from({ length: 32 }, (_, i) => `"k${i}":${i}`),
    ]) {
      const text = `{${entries.join(',')}}`;
      expect(taken(text), text).toBe(true);
    }
  });

  const serializedAgain: [string, string][] = [
    ['whitespace', '{ "pool":"tank","id":"1","state":"running"}'],
    ['an escaped slash', '{"id":"a\\/b"}'],
    ['a needless \\u escape', '{"id":"\\u0041"}'],
    ['a control character spelled \\u0009 where JSON.stringify writes \\t', '{"id":"a\\u0009b"}'],
    ['upper-case hex', '{"id":"a\\u001Fb"}'],
    ['a raw control character', '{"id":"a\u0001b"}'],
    ['a fraction', '{"init_pid":1.0}'],
    ['an exponent', '{"init_pid":1e3}'],
    ['minus zero', '{"id":-0}'],
    ['an array-index key', '{"b":1,"1":2}'],
    ['a repeated key', '{"a":1,"a":2}'],
    ['an integer past 2^53 that reads back as another', '{"id":12345678901234567}'],
    ['a fraction with a trailing zero', '{"sent_ms":1733549489123.450}'],
    ['an exponent JSON.stringify writes with a plus', '{"n":1e21}'],
    ['a capital E', '{"n":1E+21}'],
    ['a fraction with no digits', '{"n":1.}'],
    ['minus zero with a fraction', '{"n":-0.0}'],
    ['a string left open', '{"id":"abc'],
    [
      'a key repeated among many of one length',
      `{${Array.from({ length: 20 }, (_, i) => `"k${String(i).padStart(2, '0')}":1`).join(',')},"k05":2}`,
    ],
    ['an object of more than 32 keys', `{${Array.from({ length: 33 }, (_, i) => `"k${i}":${i}`).join(',')}}`],
  ];
  for (const [what, text] of serializedAgain) {
    it(`leaves ${what} to be serialized again`, () => {
      expect(taken(text)).toBe(false);
    });
  }
});
