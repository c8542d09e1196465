// One sequenced batch of events as it lies in the shared ring and, byte for byte, in a journal
// segment: a fixed header, each event's end offset and type code, then the event lines
// themselves, stamped with seq and time by the thread that wrote them. Records are 8-byte
// aligned and in the host's byte order (little-endian on x86-64 and arm64).
//
//   0  u32  state: RECORD (written and complete), PAD (filler to the end of the ring), CLAIMED (being written)
//   4  u32  length of the whole record in bytes (a multiple of 8)
//   8  f64  seq of the first event (the others follow without gaps)
//  16  f64  time of every event in it, in ms since the epoch
//  24  u32  count of events
//  28  u32  CRC-32 of bytes 8–27 and 32–length (zlib's crc32)
//  32  u32  bytes of event lines
//  36  u32  flags (VOID: its events were lost before they were written; count says how many)
//  40  u32 × count  end offset of each line within the lines; then u8 × count type codes
//   …  the lines (UTF-8, each ending in \n), from the next multiple of 8
import { crc32 } from 'node:zlib';

export const RECORD_MAGIC = 0x52545645; // "EVTR"
export const PAD_MAGIC = 0x44415045; // "EPAD"
export const CLAIMED = 0;

export const HEADER_BYTES = 40;
/** Header offsets in 4-byte words (for Int32Array/Uint32Array views) and 8-byte words (Float64Array). */
export const W_STATE = 0;
export const W_LENGTH = 1;
export const D_FIRST_SEQ = 1;
export const D_TIME = 2;
export const W_COUNT = 6;
export const W_CRC = 7;
export const W_LINE_BYTES = 8;
export const W_FLAGS = 9;
export const FLAG_VOID = 1;

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Where the lines start, for a record of `count` events. */
export function linesOffset(count: number): number {
  return align8(HEADER_BYTES + count * 5);
}

/** Bytes of a record of `count` events whose lines take `lineBytes`. */
export function recordBytes(count: number, lineBytes: number): number {
  return linesOffset(count) + align8(lineBytes);
}

/** The start of an event line: `{"seq":N,"time":"T",` (42 bytes plus the digits of N). */
export const PREFIX_FIXED_BYTES = '{"seq":,"time":"2026-01-01T00:00:00.000Z",'.length;

/** Total digits of the numbers first … first + count - 1 (each seq's prefix is this long plus PREFIX_FIXED_BYTES). */
export function digitsOf(first: number, count: number): number {
  let total = 0;
  let n = first;
  let left = count;
  let digits = String(first).length;
  let nextPower = 10 ** digits;
  while (left > 0) {
    const inThisWidth = Math.min(left, nextPower - n);
    total += inThisWidth * digits;
    left -= inThisWidth;
    n += inThisWidth;
    digits++;
    nextPower *= 10;
  }
  return total;
}

/** The CRC a record at `offset` of `bytes` should carry (over its header fields and body, not its state or CRC). */
export function recordCrc(bytes: Uint8Array, offset: number, length: number): number {
  return crc32(bytes.subarray(offset + 32, offset + length), crc32(bytes.subarray(offset + 8, offset + 28)));
}

/** A record's header, read from a buffer (a segment being read back, or a copy out of the ring). */
export interface RecordHeader {
  state: number;
  length: number;
  firstSeq: number;
  timeMs: number;
  count: number;
  crc: number;
  lineBytes: number;
  flags: number;
}

export function readHeader(view: DataView, offset: number): RecordHeader {
  return {
    state: view.getUint32(offset, true),
    length: view.getUint32(offset + 4, true),
    firstSeq: view.getFloat64(offset + 8, true),
    timeMs: view.getFloat64(offset + 16, true),
    count: view.getUint32(offset + 24, true),
    crc: view.getUint32(offset + 28, true),
    lineBytes: view.getUint32(offset + 32, true),
    flags: view.getUint32(offset + 36, true),
  };
}

/** Whether a header could be a record's at all (before its CRC is checked): sizes that add up. */
export function plausible(header: RecordHeader, available: number): boolean {
  return (
    header.state === RECORD_MAGIC &&
    header.length % 8 === 0 &&
    header.length >= HEADER_BYTES &&
    header.length <= available &&
    Number.isSafeInteger(header.firstSeq) &&
    header.firstSeq >= 1 &&
    header.count < header.length &&
    recordBytes(header.count, header.lineBytes) === header.length
  );
}
