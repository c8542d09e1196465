// Property-based: whatever a producer sends, the framer and validator answer every line as
// specified, never throw, and accept exactly the valid reports, unchanged.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/protocol/parse-command.js';
import { LineFramer } from '../../src/protocol/framing.js';
import { EVENT_TYPES, reportSchemas } from '../../src/protocol/events.js';
import { isValidReport, MAX_WIRE_ISSUES, parseReport } from '../../src/protocol/report.js';
import { eventLine, parseEventOpts } from '../../src/protocol/wire.js';
import { chunked, invalidLine, mutatedReport, REJECTION_MESSAGES, validReport } from '../helpers/arbitraries.js';

const MAX = 256;

type Outcome = { line: number; ok: true; opts: string } | { line: number; ok: false; message: string };

function run(chunks: Buffer[]): Outcome[] {
  const out: Outcome[] = [];
  const framer = new LineFramer(MAX, {
    line: (text, line) => {
      const report = parseReport(text);
      out.push(report.ok ? { line, ok: true, opts: JSON.stringify(report.opts) } : { line, ok: false, message: report.message });
    },
    badLine: (line, message) => out.push({ line, ok: false, message }),
  });
  for (const chunk of chunks) framer.push(chunk);
  framer.end();
  return out;
}

describe('framer + validator (property-based)', () => {
  it('answer every line in order: valid reports accepted unchanged, everything else with a specified error', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            validReport.map((report) => ({ valid: true as const, report })),
            invalidLine.map((line) => ({ valid: false as const, line })),
          ),
          { maxLength: 25 },
        ),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (items, cuts, crlf) => {
          const lines = items.map((item) => (item.valid ? Buffer.from(JSON.stringify(item.report)) : Buffer.from(item.line)));
          const input = Buffer.concat(lines.flatMap((line) => [line, Buffer.from(crlf ? '\r\n' : '\n')]));
          const outcomes = run(chunked(input, cuts));
          expect(outcomes.map((outcome) => outcome.line)).toEqual(lines.map((_, i) => i + 1));
          outcomes.forEach((outcome, i) => {
            const item = items[i]!;
            const tooLong = lines[i]!.length > MAX;
            if (item.valid && !tooLong) {
              expect(outcome).toEqual({ line: i + 1, ok: true, opts: JSON.stringify(item.report.opts) });
            } else {
              expect(outcome.ok).toBe(false);
              if (!outcome.ok)
                expect(
                  REJECTION_MESSAGES.some((pattern) => pattern.test(outcome.message)),
                  outcome.message,
                ).toBe(true);
            }
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never throws on any bytes, and counts every line', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const input = Buffer.from(bytes);
        const outcomes = run(chunked(input, cuts));
        const newlines = input.filter((b) => b === 10).length;
        const trailing = input.length > 0 && input[input.length - 1] !== 10 ? 1 : 0;
        expect(outcomes).toHaveLength(newlines + trailing);
        for (const outcome of outcomes) {
          if (!outcome.ok)
            expect(
              REJECTION_MESSAGES.some((pattern) => pattern.test(outcome.message)),
              outcome.message,
            ).toBe(true);
        }
        if (!isUtf8(input)) expect(outcomes.some((outcome) => !outcome.ok)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('the compiled validator decides every report as the runtime schema does', () => {
    fc.assert(
      fc.property(mutatedReport, (candidate) => {
        const type = candidate.type as (typeof EVENT_TYPES)[number];
        expect(isValidReport(type, candidate)).toBe(reportSchemas[type].safeParse(candidate).success);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects subscriber command lines of any shape with a sentence, never throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((value) => JSON.stringify(value)),
        ),
        (text) => {
          const result = parseCommand(text);
          if (!result.ok)
            expect(result.message).toMatch(/^(Line is not valid JSON|A command must be|Expected a command|Invalid \w+ command)/);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('hostile inputs', () => {
  it('keeps __proto__, constructor and prototype keys of free-form data as data', () => {
    const text =
      '{"type":"management","opts":{"id":1,"cmd":"x","state":"run","opts":{"__proto__":{"admin":true},"constructor":{"prototype":1}}}}';
    const report = parseReport(text);
    expect(report.ok).toBe(true);
    if (!report.ok) return;
    const line = eventLine(1, '2026-01-01T00:00:00.000Z', report.type, report.opts);
    expect(JSON.stringify(parseEventOpts(line))).toBe(JSON.stringify(JSON.parse(text).opts));
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('answers 100,000 unknown keys with a short error', () => {
    const opts: Record<string, number> = { pool: 1 };
    for (let i = 0; i < 100_000; i++) opts[`k${i}`] = i;
    const report = parseReport(JSON.stringify({ type: 'state', opts }));
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.issues).toHaveLength(MAX_WIRE_ISSUES);
    expect(report.message).toMatch(/\(and 99999 more problems\)$/);
  });

  it('accepts a 100,000-key free-form payload unchanged', () => {
    const payload: Record<string, number> = {};
    for (let i = 0; i < 100_000; i++) payload[`k${i}`] = i;
    const report = parseReport(JSON.stringify({ type: 'management', opts: { id: 1, cmd: 'x', state: 'run', opts: payload } }));
    expect(report.ok && JSON.stringify((report.opts as { opts: unknown }).opts)).toBe(JSON.stringify(payload));
  });

  it('rejects numbers that overflow instead of publishing null', () => {
    expect(parseReport('{"type":"management","opts":{"id":1,"cmd":"x","state":"run","opts":{"a":[1,{"b":1e400}]}}}')).toMatchObject({
      ok: false,
      message: 'Invalid management report: opts.opts.a.1.b is a number too large to represent',
    });
  });

  it('handles deep nesting without recursion trouble', () => {
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const report = parseReport(`{"type":"management","opts":{"id":1,"cmd":"x","state":"run","opts":{"a":${deep}}}}`);
    expect(report.ok).toBe(true);
    if (!report.ok) return;
    expect(() => eventLine(1, '2026-01-01T00:00:00.000Z', report.type, report.opts)).toThrow(RangeError);
    expect(parseReport(`${'['.repeat(50_000)}${']'.repeat(50_000)}`)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^A report must be a JSON object/),
    });
  });
});
