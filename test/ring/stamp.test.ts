// Stamping a record's lines in the writer's own memory (ring/stamp.ts) and copying them into the
// ring with memcpy (ring/copy.ts): the same bytes as writing each line out by hand, at any size.
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../src/ipc/batch.js';
import { copyBytes } from '../../src/ring/copy.js';
import { digitsOf, PREFIX_FIXED_BYTES } from '../../src/ring/record.js';
import { Stamper } from '../../src/ring/stamp.js';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0, 123);
const TIME = '2026-12-07T03:00:00.123Z';

function tailsOf(lines: string[]) {
  const builder = new BatchBuilder();
  for (const line of lines) builder.add(line, 1);
  return builder.view();
}

function stamped(stamper: Stamper, lines: string[], firstSeq: number) {
  const tails = tailsOf(lines);
  const lineBytes = tails.byteLength + tails.count * PREFIX_FIXED_BYTES + digitsOf(firstSeq, tails.count);
  const { lines: bytes, ends } = stamper.stamp(tails, firstSeq, T0, lineBytes);
  return { text: Buffer.from(bytes).toString('utf8'), ends: [...ends] };
}

function expected(lines: string[], firstSeq: number) {
  const out = lines.map((line, i) => `{"seq":${firstSeq + i},"time":"${TIME}",${line}`);
  let end = 0;
  return { text: out.join(''), ends: out.map((line) => (end += Buffer.byteLength(line))) };
}

describe('Stamper', () => {
  it('writes each line as {"seq":N,"time":"T", and its tail, counting seqs through carries', () => {
    const stamper = new Stamper();
    for (const first of [1, 9, 98, 1_099, 999_999, 2 ** 40 - 2]) {
      const lines = ['"type":"db","opts":{}}\n', '"type":"state","opts":{"id":"ü"}}\n', '"type":"x"}\n'];
      expect(stamped(stamper, lines, first)).toEqual(expected(lines, first));
    }
  });

  it('grows past its first buffer and index, and a smaller record after a large one comes out right', () => {
    const stamper = new Stamper();
    const many = Array.from({ length: 5000 }, (_, i) => `"type":"state","opts":{"id":"${'c'.repeat(i % 97)}"}}\n`);
    expect(stamped(stamper, many, 7)).toEqual(expected(many, 7));
    const few = ['"type":"db","opts":{"a":1}}\n'];
    expect(stamped(stamper, few, 100)).toEqual(expected(few, 100));
  });

  it('refuses to stamp lines that do not take the bytes claimed for them', () => {
    const tails = tailsOf(['"type":"db","opts":{}}\n']);
    expect(() => new Stamper().stamp(tails, 1, T0, tails.byteLength)).toThrow(/claimed/);
  });
});

describe('copyBytes', () => {
  it('copies into and out of shared memory at every alignment', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(256));
    const source = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    for (let from = 0; from < 8; from++) {
      for (let at = 0; at < 8; at++) {
        shared.fill(0);
        copyBytes(source.subarray(from, from + 90), shared, at);
        expect([...shared.subarray(at, at + 90)]).toEqual([...source.subarray(from, from + 90)]);
        expect(shared[at + 90]).toBe(0);
        const back = new Uint8Array(95);
        copyBytes(shared.subarray(at, at + 90), back, 5);
        expect([...back.subarray(5)]).toEqual([...source.subarray(from, from + 90)]);
      }
    }
  });

  it('copies nothing for nothing, and refuses to write past the end', () => {
    const target = new Uint8Array(4);
    copyBytes(new Uint8Array(0), target, 4);
    expect(() => copyBytes(new Uint8Array(3), target, 2)).toThrow(RangeError);
    expect([...target]).toEqual([0, 0, 0, 0]);
  });
});
