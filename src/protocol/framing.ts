// Splits a byte stream into newline-delimited UTF-8 lines with a hard per-line byte limit.
// A line over the limit is discarded as it streams (never buffered whole), and an unfinished
// line is kept in one buffer that grows with it and is let go when it ends, so memory per
// connection stays bounded by the limit whatever a client sends (even one byte per write).
// A line must also be finished within a deadline, or a client could hold its bytes forever.
import { isUtf8 } from 'node:buffer';

const NEWLINE = 0x0a;

export interface LineSink {
  /** A complete line, decoded, without its `\n` or a trailing `\r`. */
  line(text: string, lineNo: number): void;
  /**
   * A complete line offered first as bytes, `bytes[start, end)` (valid UTF-8, within the limit,
   * without its `\n`): true if taken, else it comes to `line`. For a reader that can take most
   * lines without decoding them (valid only during the call: the bytes are the chunk's).
   */
  bytes?(bytes: Buffer, start: number, end: number, lineNo: number): boolean;
  /** A line that cannot be decoded: over the byte limit or not valid UTF-8. */
  badLine(lineNo: number, message: string): void;
  /** A line was not finished within the deadline (lineTimeoutMs): the connection should end. */
  timedOut?(message: string): void;
}

/** How small the buffer of an unfinished line starts; it doubles as the line grows. */
const PARTIAL_START_BYTES = 256;

/**
 * Chunks this small that finish no line, this many in a row, are a trickle (a client sending a
 * byte at a time): its connection should then be read less often, so that the bytes gather in
 * the kernel and a thousand such clients cost the daemon a few reads each per second instead of
 * one per byte. (A client that writes a line and its newline apart makes one such chunk, not 8.)
 */
const TRICKLE_BYTES = 512;
const TRICKLE_CHUNKS = 8;
const TRICKLE_PAUSE_MS = 2000;

/**
 * What Node reads ahead from a paused connection. Its default (16 KiB) is counted in bytes, so a
 * client sending one byte per write kept being read a byte at a time while paused; with this a
 * paused connection is left in the kernel after one chunk. It does not slow a flowing one.
 */
export const READ_AHEAD_BYTES = 1;

/** How long to leave a trickling connection unread: 1 to 3 s, spread so that many such connections do not all wake together. */
export function tricklePauseMs(): number {
  return TRICKLE_PAUSE_MS * (0.5 + Math.random());
}

export class LineFramer {
  private lineNo = 0;
  /** The unfinished line: `partialBytes` bytes at the start of `partial` (null when there is none). */
  private partial: Buffer | null = null;
  private partialBytes = 0;
  /** True while the current line has passed the limit and its bytes are being dropped. */
  private discarding = false;
  private deadline: NodeJS.Timeout | undefined;
  /** Small chunks in a row that finished no line. */
  private smallChunks = 0;
  /** lineNo when the deadline was set: a line finished since then restarts it. */
  private deadlineLine = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
    /** 0: no deadline. */
    private readonly lineTimeoutMs = 0,
  ) {}

  /** Frames a chunk; returns true when it was a trickle (see TRICKLE_BYTES). */
  push(chunk: Buffer): boolean {
    const linesBefore = this.lineNo;
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    if (newline !== -1 && (this.partialBytes > 0 || this.discarding)) {
      this.finishLine(chunk.subarray(0, newline));
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (newline !== -1) {
      const last = chunk.lastIndexOf(NEWLINE);
      this.completeLines(chunk.subarray(start, last));
      start = last + 1;
    }
    if (start < chunk.length) this.keepPartial(chunk.subarray(start));
    if (this.lineTimeoutMs > 0) this.updateDeadline();
    this.smallChunks = this.lineNo === linesBefore && chunk.length < TRICKLE_BYTES ? this.smallChunks + 1 : 0;
    return this.smallChunks >= TRICKLE_CHUNKS;
  }

  /** The peer finished sending: a last line without `\n` counts like any other. */
  end(): void {
    if (this.partialBytes > 0 || this.discarding) this.finishLine(Buffer.alloc(0));
    this.stop();
  }

  /** The connection is gone: no deadline may fire, and the unfinished line is let go. */
  stop(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.partial = null;
    this.partialBytes = 0;
  }

  private updateDeadline(): void {
    const unfinished = this.partialBytes > 0 || this.discarding;
    if (this.deadline !== undefined && (!unfinished || this.lineNo !== this.deadlineLine)) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    if (unfinished && this.deadline === undefined) {
      this.deadlineLine = this.lineNo;
      this.deadline = setTimeout(() => {
        this.stop();
        this.sink.timedOut?.(`Line ${this.lineNo + 1} was not finished within ${this.lineTimeoutMs / 1000} s; closing the connection`);
      }, this.lineTimeoutMs);
      this.deadline.unref();
    }
  }

  private keepPartial(bytes: Buffer): void {
    if (this.discarding) return;
    const size = this.partialBytes + bytes.length;
    // One extra byte is allowed for a `\r` that will be stripped.
    if (size > this.maxLineBytes + 1) {
      this.partial = null;
      this.partialBytes = 0;
      this.discarding = true;
      return;
    }
    // Copied into one buffer of our own: a tail must not pin the chunk it came from, and a line
    // sent a byte at a time must not cost an object per byte.
    if (this.partial === null || size > this.partial.length) {
      const grown = Buffer.allocUnsafeSlow(Math.min(Math.max(PARTIAL_START_BYTES, size * 2), this.maxLineBytes + 1));
      if (this.partial !== null) this.partial.copy(grown, 0, 0, this.partialBytes);
      this.partial = grown;
    }
    bytes.copy(this.partial, this.partialBytes);
    this.partialBytes = size;
  }

  private finishLine(tail: Buffer): void {
    if (this.discarding) {
      this.discarding = false;
      this.tooLong(++this.lineNo);
      return;
    }
    const bytes = this.partial !== null ? Buffer.concat([this.partial.subarray(0, this.partialBytes), tail]) : tail;
    this.partial = null;
    this.partialBytes = 0;
    // Offered as bytes like the lines read whole: a busy producer's writes are cut at every read,
    // and each line cut so would otherwise take the slow way (for a report: the full check).
    if (this.sink.bytes !== undefined && bytes.length <= this.maxLineBytes + 1 && isUtf8(bytes)) {
      return this.offerLine(bytes, 0, bytes.length, ++this.lineNo, this.sink.bytes);
    }
    this.emit(bytes);
  }

  /** Every line in `region` is complete; the common case decodes the whole region at once. */
  private completeLines(region: Buffer): void {
    if (isUtf8(region)) {
      if (this.sink.bytes !== undefined) return this.offerBytes(region, this.sink.bytes);
      const lines = region.toString('utf8').split('\n');
      for (const text of lines) this.emitText(text, ++this.lineNo);
      return;
    }
    let start = 0;
    for (;;) {
      const newline = region.indexOf(NEWLINE, start);
      if (newline === -1) break;
      this.emit(region.subarray(start, newline));
      start = newline + 1;
    }
    this.emit(region.subarray(start));
  }

  /** completeLines, for a sink that takes lines as bytes: each line is decoded only if it is not taken so. */
  private offerBytes(region: Buffer, take: (bytes: Buffer, start: number, end: number, lineNo: number) => boolean): void {
    for (let start = 0; ;) {
      const newline = region.indexOf(NEWLINE, start);
      const end = newline === -1 ? region.length : newline;
      this.offerLine(region, start, end, ++this.lineNo, take);
      if (newline === -1) return;
      start = newline + 1;
    }
  }

  /** One complete line of valid UTF-8, `bytes[start, end)`: to `take` if within the limit, decoded if not taken. */
  private offerLine(bytes: Buffer, start: number, end: number, lineNo: number, take: NonNullable<LineSink['bytes']>): void {
    if (end - start > this.maxLineBytes || !take(bytes, start, end, lineNo)) this.emitText(bytes.toString('utf8', start, end), lineNo);
  }

  private emit(bytes: Buffer): void {
    if (bytes.length > this.maxLineBytes + 1) return this.tooLong(++this.lineNo);
    if (!isUtf8(bytes)) return this.sink.badLine(++this.lineNo, 'Line is not valid UTF-8');
    this.emitText(bytes.toString('utf8'), ++this.lineNo);
  }

  private emitText(text: string, lineNo: number): void {
    if (text.endsWith('\r')) text = text.slice(0, -1);
    // A UTF-16 length is at most the UTF-8 byte count, and a third of it at least.
    if (text.length * 3 > this.maxLineBytes && Buffer.byteLength(text) > this.maxLineBytes) return this.tooLong(lineNo);
    this.sink.line(text, lineNo);
  }

  private tooLong(lineNo: number): void {
    this.sink.badLine(lineNo, `Line is longer than the limit of ${this.maxLineBytes} bytes`);
  }
}
