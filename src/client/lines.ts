// Reads newline-delimited JSON from a socket as an async queue of parsed values. A consumer that
// falls behind pauses the socket (the kernel, then the daemon, hold the rest) instead of
// buffering without bound here.
import type { Socket } from 'node:net';

const PAUSE_AT = 10_000;
const RESUME_AT = 1_000;

/** Splits text that arrives in chunks into lines: each push returns the lines it completed. */
export class LineSplitter {
  private partial = '';

  push(chunk: string): string[] {
    const lines: string[] = [];
    const text = this.partial + chunk;
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      lines.push(text.slice(start, newline));
      start = newline + 1;
    }
    this.partial = text.slice(start);
    return lines;
  }
}

export class JsonLineReader {
  private readonly splitter = new LineSplitter();
  private readonly values: unknown[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  private paused = false;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (const line of this.splitter.push(chunk)) {
        try {
          this.values.push(JSON.parse(line));
        } catch {
          this.failure = new Error(`eventd sent a line that is not JSON: ${line.slice(0, 200)}`);
        }
      }
      if (this.values.length >= PAUSE_AT && !this.paused) {
        this.paused = true;
        socket.pause();
      }
      this.wake();
    });
    const finish = () => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
  }

  /** The next value, or undefined once the connection has ended. */
  async next(): Promise<unknown> {
    for (;;) {
      if (this.values.length > 0) {
        if (this.paused && this.values.length <= RESUME_AT) {
          this.paused = false;
          this.socket.resume();
        }
        return this.values.shift();
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Every value already received, without waiting (possibly none). */
  takeBuffered(): unknown[] {
    const values = this.values.splice(0);
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    return values;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}
