// Batches in-process: what goes in comes out, through building, slicing and merging, for any
// lines (multi-byte UTF-8 included) and any split; checked in milliseconds, next to the e2e suite.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchBuilder, BatchView, encodeBatch, mergeBatches, sliceBatch, type EventBatch } from '../../src/ipc/batch.js';
import { EVENT_TYPES, eventTypeCode } from '../../src/protocol/events.js';

/** The lines and type codes of a batch, read back through a BatchView. */
function contents(batch: EventBatch): { firstSeq: number; lines: string[]; types: string[] } {
  const view = new BatchView(batch);
  return {
    firstSeq: batch.firstSeq,
    lines: Array.from({ length: view.count }, (_, i) => view.line(i)),
    types: Array.from({ length: view.count }, (_, i) => view.type(i)),
  };
}

const line = fc.string({ unit: 'grapheme', maxLength: 40 }).map((text) => `${JSON.stringify({ text })}\n`);
const events = fc.array(fc.tuple(line, fc.integer({ min: 0, max: EVENT_TYPES.length - 1 })), { minLength: 1, maxLength: 60 });

describe('batches', () => {
  it('give back every line and type, in order, whatever the bytes', () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 1, max: 1e6 }), (input, firstSeq) => {
        const batch = encodeBatch(
          firstSeq,
          input.map(([text]) => text),
          input.map(([, code]) => code),
        );
        expect(contents(batch)).toEqual({
          firstSeq,
          lines: input.map(([text]) => text),
          types: input.map(([, code]) => EVENT_TYPES[code]),
        });
        expect(new BatchView(batch).lastSeq).toBe(firstSeq + input.length - 1);
        expect(Buffer.from(batch.bytes).toString('utf8')).toBe(input.map(([text]) => text).join(''));
      }),
    );
  });

  it('a builder reused past its scratch space (256 KiB) and index (4096 lines) loses nothing', () => {
    const builder = new BatchBuilder();
    const long = `${JSON.stringify({ text: 'ü'.repeat(50_000) })}\n`;
    const lines = [...Array.from({ length: 5000 }, (_, i) => `{"n":${i}}\n`), long, long, long];
    lines.forEach((text, i) => builder.add(text, i % EVENT_TYPES.length));
    expect(builder.length).toBe(lines.length);
    const first = builder.take(1);
    expect(contents(first).lines).toEqual(lines);
    // Taken: the builder starts again from empty, and the batch it gave is not overwritten.
    builder.add('{"again":1}\n', 0);
    expect(contents(builder.take(5004)).lines).toEqual(['{"again":1}\n']);
    expect(contents(first).lines[5000]).toBe(long);
  });

  it('slice to any range and merge back to the same events', () => {
    fc.assert(
      fc.property(events, fc.array(fc.nat(), { maxLength: 5 }), fc.integer({ min: 1, max: 1000 }), (input, cuts, firstSeq) => {
        const batch = encodeBatch(
          firstSeq,
          input.map(([text]) => text),
          input.map(([, code]) => code),
        );
        const points = [...new Set([0, ...cuts.map((cut) => cut % (input.length + 1)), input.length])].sort((a, b) => a - b);
        const pieces = points.slice(1).map((to, i) => sliceBatch(batch, points[i]!, to));
        pieces.forEach((piece, i) => {
          expect(piece.firstSeq).toBe(firstSeq + points[i]!);
          expect(contents(piece).lines).toEqual(input.slice(points[i], points[i + 1]).map(([text]) => text));
        });
        expect(contents(mergeBatches(pieces.filter((piece) => piece.ends.length > 0)))).toEqual(contents(batch));
      }),
    );
  });

  it("views decode a line's opts and osctld framing once each", () => {
    const batch = encodeBatch(
      7,
      ['{"seq":7,"time":"t","type":"state","opts":{"pool":"tank","id":"1","state":"running"}}\n'],
      [eventTypeCode('state')],
    );
    const view = new BatchView(batch);
    expect(view.type(0)).toBe('state');
    expect(view.eventOpts(0)).toEqual({ pool: 'tank', id: '1', state: 'running' });
    expect(view.eventOpts(0)).toBe(view.eventOpts(0));
    expect(view.osctldLine(0)).toBe('{"status":true,"response":{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}}}\n');
  });
});
