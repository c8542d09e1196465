// A record's event lines, stamped: `{"seq":N,"time":"T",` before each tail, put together in the
// writing thread's own memory, then copied into the ring in one piece (ring/copy.ts).
//
// Why not line by line straight into the ring: each copy into shared memory needed a view of its
// source (an allocation per event: TypedArray set takes no range) and went through V8's copy for
// shared memory, byte by byte at any alignment but one (ring/copy.ts). Here, in one buffer of
// ordinary memory, each prefix and tail is moved with copyWithin: no view, a memmove.
import { align8 } from './record.js';

const textEncoder = new TextEncoder();
/** Where a line's seq digits start: after `{"seq":`. */
const SEQ_DIGITS_AT = '{"seq":'.length;
/** Room for the prefix template at the start of the buffer: `{"seq":` + up to 16 digits + `,"time":"…",`. */
const TEMPLATE_BYTES = 128;

/** Tails of events (their lines without seq and time) waiting to be written: a thread's scratch space. */
export interface Tails {
  /** The tails, UTF-8, concatenated. */
  bytes: Uint8Array;
  /** End offset of each tail in `bytes`. */
  ends: Uint32Array;
  types: Uint8Array;
  count: number;
  byteLength: number;
}

export class Stamper {
  private buffer = new Uint8Array(64 * 1024);
  private ends = new Int32Array(1024);

  /**
   * The lines of `tails` stamped with consecutive seqs from `firstSeq` and time `timeMs` (`lineBytes`
   * in all), and each line's end among them: views valid until the next call.
   */
  stamp(tails: Tails, firstSeq: number, timeMs: number, lineBytes: number): { lines: Uint8Array; ends: Int32Array } {
    const { count, byteLength } = tails;
    if (count > this.ends.length) this.ends = new Int32Array(2 * count);
    const ends = this.ends;
    // [prefix template | the tails | the stamped lines]
    const tailsAt = TEMPLATE_BYTES;
    const linesAt = align8(tailsAt + byteLength);
    if (linesAt + lineBytes > this.buffer.length) this.buffer = new Uint8Array(align8(2 * (linesAt + lineBytes)));
    const buffer = this.buffer;
    buffer.set(tails.bytes.subarray(0, byteLength), tailsAt);
    // Every line of a record starts the same but for the seq: one template, its digits counted up.
    const time = `${new Date(timeMs).toISOString()}",`;
    let prefixLength = this.template(`{"seq":${firstSeq},"time":"${time}`);
    let digitsEnd = SEQ_DIGITS_AT + String(firstSeq).length;
    let at = linesAt;
    let start = tailsAt;
    for (let i = 0; i < count; i++) {
      buffer.copyWithin(at, 0, prefixLength);
      at += prefixLength;
      const end = tailsAt + tails.ends[i]!;
      buffer.copyWithin(at, start, end);
      at += end - start;
      start = end;
      ends[i] = at - linesAt;
      // The next seq's digits: add one, carrying (seqs are consecutive); one digit more at 10^n.
      let d = digitsEnd - 1;
      while (d >= SEQ_DIGITS_AT && buffer[d] === 0x39) buffer[d--] = 0x30;
      if (d >= SEQ_DIGITS_AT) buffer[d]!++;
      else {
        prefixLength = this.template(`{"seq":${firstSeq + i + 1},"time":"${time}`);
        digitsEnd++;
      }
    }
    if (at - linesAt !== lineBytes) throw new Error(`stamped lines take ${at - linesAt} bytes, not the ${lineBytes} claimed`);
    return { lines: buffer.subarray(linesAt, at), ends: ends.subarray(0, count) };
  }

  /** Puts a prefix at the start of the buffer; its length. */
  private template(prefix: string): number {
    return textEncoder.encodeInto(prefix, this.buffer.subarray(0, TEMPLATE_BYTES)).written;
  }
}
