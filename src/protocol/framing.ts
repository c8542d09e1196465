// Splits a byte stream into newline-delimited UTF-8 lines with a hard per-line byte limit.
// A line over the limit is discarded as it streams (never buffered whole), so memory per
// connection stays bounded by the limit whatever a client sends.
import { isUtf8 } from 'node:buffer';

const NEWLINE = 0x0a;

export interface LineSink {
  /** A complete line, decoded, without its `\n` or a trailing `\r`. */
  line(text: string, lineNo: number): void;
  /** A line that cannot be decoded: over the byte limit or not valid UTF-8. */
  badLine(lineNo: number, message: string): void;
}

export class LineFramer {
  private lineNo = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** True while the current line has passed the limit and its bytes are being dropped. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Buffer): void {
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
  }

  /** The peer finished sending: a last line without `\n` counts like any other. */
  end(): void {
    if (this.partialBytes > 0 || this.discarding) this.finishLine(Buffer.alloc(0));
  }

  private keepPartial(bytes: Buffer): void {
    if (this.discarding) return;
    // One extra byte is allowed for a `\r` that will be stripped.
    if (this.partialBytes + bytes.length > this.maxLineBytes + 1) {
      this.partial = [];
      this.partialBytes = 0;
      this.discarding = true;
      return;
    }
    // Copy: the tail must not pin the whole chunk it came from.
    this.partial.push(Buffer.from(bytes));
    this.partialBytes += bytes.length;
  }

  private finishLine(tail: Buffer): void {
    if (this.discarding) {
      this.discarding = false;
      this.tooLong(++this.lineNo);
      return;
    }
    const bytes = this.partialBytes > 0 ? Buffer.concat([...this.partial, tail]) : tail;
    this.partial = [];
    this.partialBytes = 0;
    this.emit(bytes);
  }

  /** Every line in `region` is complete; the common case decodes the whole region at once. */
  private completeLines(region: Buffer): void {
    if (isUtf8(region)) {
      const lines = region.toString('utf8').split('\n');
      for (const text of lines) this.emitText(text);
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

  private emit(bytes: Buffer): void {
    if (bytes.length > this.maxLineBytes + 1) return this.tooLong(++this.lineNo);
    if (!isUtf8(bytes)) return this.sink.badLine(++this.lineNo, 'Line is not valid UTF-8');
    this.emitText(bytes.toString('utf8'));
  }

  private emitText(text: string): void {
    const lineNo = ++this.lineNo;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    // A UTF-16 length is at most the UTF-8 byte count, and a third of it at least.
    if (text.length * 3 > this.maxLineBytes && Buffer.byteLength(text) > this.maxLineBytes) return this.tooLong(lineNo);
    this.sink.line(text, lineNo);
  }

  private tooLong(lineNo: number): void {
    this.sink.badLine(lineNo, `Line is longer than the limit of ${this.maxLineBytes} bytes`);
  }
}
