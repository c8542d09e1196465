// A newline-delimited JSON client over a real Unix socket, for tests.
import net from 'node:net';
import { LineSplitter } from '../../src/client/lines.js';

export class LineClient {
  private readonly splitter = new LineSplitter();
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.lines.push(...this.splitter.push(chunk));
      this.wake();
    });
    // The daemon is done with us when it ends its side (we may still have ours open).
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.ended = true;
        this.wake();
        resolve();
      };
      socket.on('end', done);
      socket.on('close', done);
    });
    socket.on('error', () => {});
  }

  static connect(path: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path, allowHalfOpen: true });
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  sendJson(value: unknown): void {
    this.socket.write(`${JSON.stringify(value)}\n`);
  }

  /** Half-close: we send nothing more, but keep reading. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Lines received and not yet taken. */
  get pending(): number {
    return this.lines.length;
  }

  async next(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('connection closed while waiting for a line');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }

  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.next(timeoutMs)) as T;
  }

  async take(count: number, timeoutMs?: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  async takeJson<T = Record<string, unknown>>(count: number, timeoutMs?: number): Promise<T[]> {
    return (await this.take(count, timeoutMs)).map((line) => JSON.parse(line) as T);
  }

  /** Asserts that nothing more arrives within `ms`. */
  async expectSilence(ms = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.lines.length > 0) throw new Error(`expected no more lines, got: ${this.lines[0]}`);
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
