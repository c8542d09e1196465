import { describe, expect, it } from 'vitest';
import { LineFramer } from '../../src/protocol/framing.js';

type Out = { line: string; n: number } | { bad: string; n: number };

function frame(chunks: (string | Buffer)[], max = 64, end = true): Out[] {
  const out: Out[] = [];
  const framer = new LineFramer(max, {
    line: (text, n) => out.push({ line: text, n }),
    badLine: (n, message) => out.push({ bad: message, n }),
  });
  for (const chunk of chunks) framer.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  if (end) framer.end();
  return out;
}

describe('LineFramer', () => {
  it('splits many lines in one chunk and numbers them from 1', () => {
    expect(frame(['a\nb\nc\n'])).toEqual([
      { line: 'a', n: 1 },
      { line: 'b', n: 2 },
      { line: 'c', n: 3 },
    ]);
  });

  it('gives the same lines whatever byte boundary the input is split at', () => {
    const input = Buffer.from('{"a":"é€𝄞"}\r\nsecond\n\nlast-without-newline');
    const whole = frame([input]);
    expect(whole).toEqual([
      { line: '{"a":"é€𝄞"}', n: 1 },
      { line: 'second', n: 2 },
      { line: '', n: 3 },
      { line: 'last-without-newline', n: 4 },
    ]);
    for (let cut = 0; cut <= input.length; cut++) {
      expect(frame([input.subarray(0, cut), input.subarray(cut)])).toEqual(whole);
    }
    // And one byte at a time.
    expect(frame([...input].map((byte) => Buffer.from([byte])))).toEqual(whole);
  });

  it('tolerates a trailing \\r only', () => {
    expect(frame(['a\r\nb\rc\n'])).toEqual([
      { line: 'a', n: 1 },
      { line: 'b\rc', n: 2 },
    ]);
  });

  it('drops a partial line when the stream is not ended (connection reset)', () => {
    expect(frame(['a\npartial'], 64, false)).toEqual([{ line: 'a', n: 1 }]);
  });

  it('rejects a line over the limit, counts it, and carries on with the next', () => {
    const long = 'x'.repeat(65);
    expect(frame([`${long}\nok\n`])).toEqual([
      { bad: 'Line is longer than the limit of 64 bytes', n: 1 },
      { line: 'ok', n: 2 },
    ]);
    // Exactly at the limit is fine, with or without \r.
    expect(frame([`${'x'.repeat(64)}\n${'y'.repeat(64)}\r\n`])).toEqual([
      { line: 'x'.repeat(64), n: 1 },
      { line: 'y'.repeat(64), n: 2 },
    ]);
  });

  it('counts bytes, not characters, against the limit', () => {
    // 22 three-byte characters: 66 bytes, 22 UTF-16 units.
    expect(frame([`${'€'.repeat(22)}\n`])).toEqual([{ bad: 'Line is longer than the limit of 64 bytes', n: 1 }]);
  });

  it('discards an over-long line as it streams, without buffering it', () => {
    const out: Out[] = [];
    const framer = new LineFramer(1024, { line: (t, n) => out.push({ line: t, n }), badLine: (n, m) => out.push({ bad: m, n }) });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 1600; i++) framer.push(chunk); // 100 MiB without a newline
    expect((framer as unknown as { partialBytes: number }).partialBytes).toBe(0);
    framer.push(Buffer.from('\n{"after":1}\n'));
    expect(out).toEqual([
      { bad: 'Line is longer than the limit of 1024 bytes', n: 1 },
      { line: '{"after":1}', n: 2 },
    ]);
  });

  it('rejects invalid UTF-8 in its own line only', () => {
    const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    expect(frame([Buffer.concat([Buffer.from('a\n'), bad, Buffer.from('\nb\n')])])).toEqual([
      { line: 'a', n: 1 },
      { bad: 'Line is not valid UTF-8', n: 2 },
      { line: 'b', n: 3 },
    ]);
    // A truncated multi-byte sequence at the end of the stream.
    expect(frame([Buffer.from([0x61, 0xe2, 0x82])])).toEqual([{ bad: 'Line is not valid UTF-8', n: 1 }]);
  });
});

describe('LineFramer offering lines as bytes', () => {
  /** Frames `chunks` with a sink that takes, as bytes, the lines that start with `T`. */
  function frameTaking(chunks: (string | Buffer)[], max = 64): (Out | { taken: string; n: number })[] {
    const out: (Out | { taken: string; n: number })[] = [];
    const framer = new LineFramer(max, {
      line: (text, n) => out.push({ line: text, n }),
      bytes: (bytes, start, end, n) => {
        if (bytes[start] !== 0x54) return false;
        out.push({ taken: bytes.toString('utf8', start, end), n });
        return true;
      },
      badLine: (n, message) => out.push({ bad: message, n }),
    });
    for (const chunk of chunks) framer.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    framer.end();
    return out;
  }

  it('offers each complete line first, decodes the ones not taken, and numbers them all in order', () => {
    expect(frameTaking(['T1\na\r\nT2é\n', 'b\nT3'])).toEqual([
      { taken: 'T1', n: 1 },
      { line: 'a', n: 2 },
      { taken: 'T2é', n: 3 },
      { line: 'b', n: 4 },
      // The last line, ended by the end of the stream, too.
      { taken: 'T3', n: 5 },
    ]);
  });

  it('offers a line cut across chunks (even inside a character) once it is whole', () => {
    const euro = Buffer.from('€');
    expect(
      frameTaking([
        'T1\nT',
        Buffer.concat([Buffer.from('2'), euro.subarray(0, 1)]),
        Buffer.concat([euro.subarray(1), Buffer.from('\nxy')]),
        'z\nT3\n',
      ]),
    ).toEqual([
      { taken: 'T1', n: 1 },
      { taken: 'T2€', n: 2 },
      { line: 'xyz', n: 3 },
      { taken: 'T3', n: 4 },
    ]);
  });

  it('never offers a line over the limit or a chunk that is not valid UTF-8', () => {
    expect(frameTaking([`T${'x'.repeat(20)}\nT1\n`], 8)).toEqual([
      { bad: 'Line is longer than the limit of 8 bytes', n: 1 },
      { taken: 'T1', n: 2 },
    ]);
    expect(frameTaking([Buffer.concat([Buffer.from('T1\nT\xff\nT2\n', 'latin1')])])).toEqual([
      { line: 'T1', n: 1 },
      { bad: 'Line is not valid UTF-8', n: 2 },
      { line: 'T2', n: 3 },
    ]);
  });
});
