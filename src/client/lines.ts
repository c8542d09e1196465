// Reads newline-delimited JSON from a socket as an async queue of parsed values.
import type { Socket } from 'node:net';

export class JsonLineReader {
  private buffer = '';
  private readonly values: unknown[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline;
      while ((newline = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        try {
          this.values.push(JSON.parse(line));
        } catch {
          this.failure = new Error(`eventd sent a line that is not JSON: ${line.slice(0, 200)}`);
        }
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
      if (this.values.length > 0) return this.values.shift();
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}
