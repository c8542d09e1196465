// Reads newline-delimited JSON from a socket as an async queue of parsed values. A consumer that
// falls behind pauses the socket (the kernel, then the daemon, hold the rest) instead of
// buffering without bound here; a line longer than anything eventd sends, or one that is not JSON,
// ends the reading with a protocol error (a server that is not eventd cannot make a client grow).
import type { Socket } from 'node:net';
import { EventdError } from '../errors.js';

/**
 * How long a client waits for the daemon's answer (to stats, a subscription, a report) before
 * giving up (the CLI exits 3): 10 s, or $EVENTD_REPLY_TIMEOUT seconds.
 */
export const REPLY_TIMEOUT_MS = replyTimeoutMs(process.env.EVENTD_REPLY_TIMEOUT);

function replyTimeoutMs(setting: string | undefined): number {
  const seconds = Number(setting);
  return setting !== undefined && setting !== '' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
}

const PAUSE_AT = 10_000;
const RESUME_AT = 1_000;

/**
 * The longest line a client reads: eventd's own lines are at most --max-line-bytes (64 MiB at
 * most) plus an event's seq and time, and its replies are far shorter.
 */
export const CLIENT_MAX_LINE_CHARS = 64 * 1024 * 1024 + 1024;

/**
 * Splits text that arrives in chunks into lines: each push returns the lines it completed. Only
 * the new chunk is searched for a newline (an unfinished line is not scanned again with each
 * chunk), and a line past `maxChars` throws.
 */
export class LineSplitter {
  private partial: string[] = [];
  private partialLength = 0;

  constructor(private readonly maxChars = Number.POSITIVE_INFINITY) {}

  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      const piece = chunk.slice(start, newline);
      if (this.partialLength + piece.length > this.maxChars) throw this.tooLong();
      lines.push(this.partialLength === 0 ? piece : this.partial.join('') + piece);
      this.partial = [];
      this.partialLength = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.partial.push(chunk.slice(start));
      this.partialLength += chunk.length - start;
      if (this.partialLength > this.maxChars) throw this.tooLong();
    }
    return lines;
  }

  private tooLong(): EventdError {
    return new EventdError(
      'EVENTD_PROTOCOL',
      `the server sent a line longer than ${this.maxChars} characters: it is not eventd, or not well`,
    );
  }
}

export class JsonLineReader {
  private readonly splitter = new LineSplitter(CLIENT_MAX_LINE_CHARS);
  private readonly values: unknown[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  private paused = false;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (this.failure) return;
      try {
        for (const line of this.splitter.push(chunk)) this.values.push(parseLine(line));
      } catch (error) {
        // What came before the bad line is still handed out; then the failure, and nothing more.
        this.failure = error as Error;
        socket.destroy();
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

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new EventdError('EVENTD_PROTOCOL', `the server sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
}

/**
 * Waits for `promise`, or rejects with EVENTD_UNREACHABLE after `ms` ("eventd did not answer …"):
 * a daemon that accepts and never answers must not hang a client. `onTimeout` releases what waits.
 */
export async function withReplyTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new EventdError('EVENTD_UNREACHABLE', `eventd did not answer ${what} within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
