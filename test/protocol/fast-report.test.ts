// The scan that takes common reports without JSON.parse must never take a report the full check
// refuses, nor read one differently: compared with parseReport on generated, mutated and
// respelled reports, and on lines near every bound.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanReport, SCHEMA_DIGEST, type ScannedReport } from '../../src/protocol/fast-report.js';
import { allReportJsonSchemas } from '../../src/protocol/json-schema.js';
import { parseReport } from '../../src/protocol/report.js';
import { eventTail } from '../../src/protocol/wire.js';
import { invalidLine, mutatedReport, validReport } from '../helpers/arbitraries.js';
import { sampleReports } from '../helpers/daemon.js';

/** What the scan makes of `text` as bytes: alone, and as one line among others whose bytes could be read past its end. */
function scan(text: string): ScannedReport | undefined {
  const alone = Buffer.from(text);
  const scanned = scanReport(alone, 0, alone.length);
  const before = Buffer.from('"}]\n');
  const among = Buffer.concat([before, alone, Buffer.from('\n"}]},"ack":1}\n')]);
  const there = scanReport(among, before.length, before.length + alone.length);
  expect(there === undefined ? undefined : { ...there, optsEnd: there.optsEnd - before.length }).toEqual(scanned);
  return scanned;
}

/**
 * Fails unless the full check takes `text` as the scan read it: same type, ack, pool and event
 * line. The scan reads bytes (valid UTF-8: text with a lone surrogate arrives as U+FFFD), so the
 * full check gets the same bytes decoded, as the framer would hand them.
 */
function expectReadAlike(text: string): void {
  const scanned = scan(text);
  if (scanned === undefined) return;
  const bytes = Buffer.from(text);
  const full = parseReport(bytes.toString('utf8'));
  expect(full.ok, text).toBe(true);
  if (!full.ok) return;
  expect(scanned.type).toBe(full.type);
  expect(Object.is(scanned.ack, full.ack), text).toBe(true);
  const pool = (full.opts as { pool?: unknown }).pool;
  expect(scanned.pool).toBe(typeof pool === 'string' ? pool : undefined);
  // The event line the ingest makes of it: the bytes after `{` up to the end of opts, then `}`.
  expect(`${bytes.toString('utf8', 1, scanned.optsEnd)}}\n`).toBe(eventTail(full.type, full.opts));
}

/** The line with one character replaced, removed or added at `at`. */
function edited(text: string, at: number, how: number, char: string): string {
  const i = at % (text.length + 1);
  if (how % 3 === 0) return text.slice(0, i) + char + text.slice(i + 1);
  if (how % 3 === 1) return text.slice(0, i) + text.slice(i + 1);
  return text.slice(0, i) + char + text.slice(i);
}

describe('scanReport', () => {
  it('was written for the report schemas as they are (check its rules when they change, then its SCHEMA_DIGEST)', () => {
    expect(createHash('sha256').update(JSON.stringify(allReportJsonSchemas())).digest('hex').slice(0, 16)).toBe(SCHEMA_DIGEST);
  });

  it('takes compact reports of every type, with an ack or none, as the full check reads them', () => {
    for (const sample of Object.values(sampleReports)) {
      for (const report of [sample, { ...sample, ack: 7 }, { ...sample, ack: 'a-1' }]) {
        const text = JSON.stringify(report);
        expect(scan(text), text).toBeDefined();
        expectReadAlike(text);
      }
    }
  });

  it('never takes a report the full check refuses or reads otherwise (generated, mutated, edited lines)', () => {
    const line = fc.oneof(
      validReport.map((report) => JSON.stringify(report)),
      mutatedReport.map((report) => JSON.stringify(report)),
      invalidLine.map((line) => (typeof line === 'string' ? line : Buffer.from(line).toString('utf8'))),
    );
    const char = fc.constantFrom('"', '\\', '{', '}', ',', ':', ' ', '0', '9', '-', 'e', '.', 'n', '\u0001', '\t', 'é', 'a', '[');
    fc.assert(
      fc.property(line, fc.nat(), fc.nat(), char, (text, at, how, ch) => {
        expectReadAlike(text);
        expectReadAlike(edited(text, at, how, ch));
      }),
      { numRuns: 4000 },
    );
  });

  const fullWay: [string, string][] = [
    ['a refused request (id null)', '{"type":"management","opts":{"id":null,"cmd":"x","opts":null,"state":"failed"}}'],
    ['a pool of 256 characters', `{"type":"state","opts":{"pool":"${'t'.repeat(256)}","id":"1","state":"running"}}`],
    ['a pool starting with a digit', '{"type":"state","opts":{"pool":"1tank","id":"1","state":"running"}}'],
    ['an empty id', '{"type":"state","opts":{"pool":"tank","id":"","state":"running"}}'],
    ['an escaped lone surrogate', '{"type":"state","opts":{"pool":"tank","id":"\\ud800","state":"running"}}'],
    ['a raw control character in free-form opts', '{"type":"management","opts":{"id":1,"cmd":"x","opts":{"a":"\u0001"},"state":"run"}}'],
    ['an escape in a name', '{"type":"state","opts":{"pool":"tank","id":"a\\"b","state":"running"}}'],
    ['an unknown state', '{"type":"state","opts":{"pool":"tank","id":"1","state":"runnin"}}'],
    ['init_pid 0', '{"type":"ct_init_pid","opts":{"pool":"tank","id":"1","init_pid":0}}'],
    ['a negative cpu package', '{"type":"ct_scheduled","opts":{"pool":"tank","id":"1","cpu_package_inuse":-1}}'],
    ['a fraction', '{"type":"ct_scheduled","opts":{"pool":"tank","id":"1","cpu_package_inuse":1.5}}'],
    ['an interface up without its veth', '{"type":"ct_netif","opts":{"pool":"tank","id":"1","name":"eth0","action":"up"}}'],
    ['a rename without new_name', '{"type":"ct_netif","opts":{"pool":"tank","id":"1","name":"eth0","action":"rename"}}'],
    ['new_name on add', '{"type":"ct_netif","opts":{"pool":"tank","id":"1","name":"eth0","action":"add","new_name":"x"}}'],
    ['a key given twice', '{"type":"state","opts":{"pool":"tank","id":"1","id":"2","state":"running"}}'],
    ['a missing key', '{"type":"state","opts":{"pool":"tank","state":"running"}}'],
    ['an unknown key', '{"type":"state","opts":{"pool":"tank","id":"1","state":"running","x":1}}'],
    ['opts before type', '{"opts":{"pool":"tank","id":"1","state":"running"},"type":"state"}'],
    ['whitespace', '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}} '],
    ['an ack too large for a number', '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"},"ack":1e400}'],
    ['an ack of 16 digits', '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"},"ack":1234567890123456}'],
    ['an unknown type', '{"type":"stat","opts":{"pool":"tank","id":"1","state":"running"}}'],
    ['something after the report', '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}}x'],
  ];
  for (const [what, text] of fullWay) {
    it(`leaves ${what} to the full check`, () => {
      expect(scan(text)).toBeUndefined();
    });
  }

  it('takes the bounds that are still inside: a 255-character pool, init_pid 1, cpu package 0, a name with any character but a quote or backslash', () => {
    for (const text of [
      `{"type":"state","opts":{"pool":"${'t'.repeat(255)}","id":"1","state":"running"}}`,
      '{"type":"state","opts":{"pool":"t_a.n:k 2-x","id":"é 😀\u2028","state":"running"}}',
      '{"type":"ct_init_pid","opts":{"pool":"tank","id":"1","init_pid":1}}',
      '{"type":"ct_scheduled","opts":{"pool":"tank","id":"1","cpu_package_inuse":0}}',
      '{"type":"management","opts":{"id":-5,"cmd":"x","opts":{"a":[1,{"b":null}],"c":"\\n"},"state":"failed"}}',
      '{"type":"ct_netif","opts":{"pool":"tank","id":"1","name":"eth0","action":"down"}}',
    ]) {
      expect(scan(text), text).toBeDefined();
      expectReadAlike(text);
    }
  });
});
